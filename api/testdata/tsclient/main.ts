// Compiled by TestTypeScriptClientCompiles (api/typescript_test.go) with
// `tsc --strict --noEmit` against schema.d.ts, which openapi-typescript
// generates from the served OpenAPI document. It uses the generated types
// the way a client would; the @ts-expect-error lines must NOT compile, so
// that types which accept anything (any, a bare object) fail the test.
import type { components, paths } from "./schema";

type StartJob = paths["/jobs"]["post"]["requestBody"]["content"]["application/json"];
type Started = paths["/jobs"]["post"]["responses"][202]["content"]["application/json"];
type JobResult = paths["/jobs/{id}/results"]["get"]["responses"][200]["content"]["application/json"];
type NoResult = paths["/jobs/{id}/results"]["get"]["responses"][409]["content"]["application/problem+json"];
type JobList = paths["/jobs"]["get"]["responses"][200]["content"]["application/json"];

// Creating a sum job: the body is typed by its `type`.
export const sum: StartJob = { type: "sum", input: { start: 1, end: 10 } };
export const slowSum: StartJob = { type: "sum", input: { start: 1, end: 10, work_ms: 500 }, timeout: "90s" };
export const doc: StartJob = { type: "document", input: { document_id: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", steps: ["ocr"] } };

// @ts-expect-error a wordcount job takes a WordcountInput, not a SumInput
export const mixedUp: StartJob = { type: "wordcount", input: { start: 1, end: 10 } };
// @ts-expect-error the sum input needs an end
export const noEnd: StartJob = { type: "sum", input: { start: 1 } };

// Reading a document job's result: narrowing on `type` types `result`.
export function firstPageText(r: JobResult): string | undefined {
  if (r.type === "document") {
    const pages: number = r.result.pages;
    const text: string | undefined = r.result.page_texts[0].text;
    return pages > 0 ? text : undefined;
  }
  if (r.type === "sum") {
    const total: number = r.result.sum;
    return String(total);
  }
  // @ts-expect-error a wordcount result has no pages
  return String(r.result.pages);
}

// A started job's input is typed by its type, too.
export function start(j: Started): number | undefined {
  if (j.type === "sum" && j.input !== undefined) {
    return j.input.end;
  }
  return undefined;
}

// Lists carry summaries, which have no input.
export function listed(l: JobList): string[] {
  // @ts-expect-error list items carry no input
  l.jobs.map((j) => j.input);
  return l.jobs.map((j) => `${j.id} ${j.type} ${j.status}`);
}

// Errors are problems.
export function why(p: NoResult): string {
  const status: components["schemas"]["Status"] | undefined = p.job_status;
  return `${p.type} ${p.status} ${status ?? ""}`;
}
