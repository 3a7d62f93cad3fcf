// Must NOT compile (see api/typescript_test.go): a sum job's start is an
// integer, so a client generated from a document that typed input loosely
// (any, or an object with no properties) would be caught here.
import type { paths } from "./schema";

type StartJob = paths["/jobs"]["post"]["requestBody"]["content"]["application/json"];

export const sum: StartJob = { type: "sum", input: { start: "one", end: 10 } };
