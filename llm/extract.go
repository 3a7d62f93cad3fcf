package llm

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/shared"
)

// Extraction is the object a model extracted from a document.
type Extraction struct {
	// Data is the answer, a JSON object that passed the caller's validation.
	Data json.RawMessage
	// Model is the model that answered, as the endpoint names it.
	Model string
	// Usage adds up the usage of every request, when the endpoint reported it.
	Usage *Usage
	// Truncated says the document was longer than Config.MaxInputChars and
	// only its beginning was sent.
	Truncated bool
	// Requests is how many requests were made (1 or 2, plus 1 when the
	// endpoint refused json_schema and JSON mode was used instead).
	Requests int
}

// InvalidOutputError is returned by Extract when the model's answer did not
// pass validation, even when it was asked again with the errors. The same
// request is unlikely to do better: callers should not retry.
type InvalidOutputError struct {
	// Errors is the validation error of the last answer.
	Errors string
}

func (e *InvalidOutputError) Error() string {
	return "llm: the answer does not conform to the schema after a second try: " + e.Errors
}

// extractTokens bounds an extraction's answer.
const extractTokens = 4096

// Extract asks the model for a JSON object that conforms to schema (a JSON
// Schema object), extracted from text, and checks the answer with validate
// (which says why an answer does not conform). It asks with response_format
// json_schema (not strict: strict mode accepts only a subset of JSON
// Schema), and with JSON mode (json_object, the schema in the prompt) when
// the endpoint answers 400 to json_schema. An answer that fails validate is
// sent back once with the errors; a second failure is an
// *InvalidOutputError. Without a configured model it returns
// ErrNotConfigured and makes no request. Only the first
// Config.MaxInputChars characters of text are sent.
func (c *Client) Extract(ctx context.Context, text string, schema json.RawMessage, instructions string, validate func([]byte) error) (Extraction, error) {
	if !c.Configured() {
		return Extraction{}, ErrNotConfigured
	}
	var schemaDoc map[string]any
	if err := json.Unmarshal(schema, &schemaDoc); err != nil {
		return Extraction{}, fmt.Errorf("llm: schema: %w", err)
	}
	body, truncated := truncate(text, c.cfg.MaxInputChars)
	note := ""
	if truncated {
		note = fmt.Sprintf("\n(The document was cut off after %d characters; extract from the part shown.)", c.cfg.MaxInputChars)
	}
	system := "You extract structured data from business documents such as invoices, letters and reports. " +
		"Answer with one JSON object only, without Markdown, that conforms to this JSON Schema:\n" + string(schema) + "\n" +
		"Copy names, amounts, dates and reference numbers exactly as the document gives them. " +
		"Leave out optional properties the document does not give; do not invent values."
	if s := strings.TrimSpace(instructions); s != "" {
		system += "\nInstructions from the user:\n" + s
	}
	params := openai.ChatCompletionNewParams{
		Model: c.cfg.Model,
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage(system),
			openai.UserMessage("Document:\n<<<\n" + body + "\n>>>" + note),
		},
		ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{
			OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{
				Name:   "extraction",
				Schema: schemaDoc,
				Strict: openai.Bool(false),
			}},
		},
	}
	c.limit(&params, extractTokens)
	out := Extraction{Truncated: truncated}
	ask := func() (completion, error) {
		out.Requests++
		resp, err := c.complete(ctx, params)
		var apiErr *APIError
		if errors.As(err, &apiErr) && apiErr.Status == http.StatusBadRequest && params.ResponseFormat.OfJSONSchema != nil {
			// The endpoint does not know json_schema (older vLLM,
			// llama.cpp, some gateways): JSON mode, with the schema in
			// the prompt, is the next best.
			params.ResponseFormat = openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONObject: &shared.ResponseFormatJSONObjectParam{}}
			out.Requests++
			resp, err = c.complete(ctx, params)
		}
		if err == nil {
			out.Model = cmp.Or(resp.model, out.Model, c.cfg.Model)
			out.Usage = addUsage(out.Usage, resp.usage)
		}
		return resp, err
	}
	resp, err := ask()
	if err != nil {
		return Extraction{}, err
	}
	data, verr := checkAnswer(resp.text, validate)
	if verr == nil {
		out.Data = data
		return out, nil
	}
	params.Messages = append(params.Messages,
		openai.AssistantMessage(resp.text),
		openai.UserMessage("Your answer does not conform to the JSON Schema:\n"+verr.Error()+
			"\nAnswer again with the corrected JSON object only."))
	resp, err = ask()
	if err != nil {
		return Extraction{}, err
	}
	data, verr = checkAnswer(resp.text, validate)
	if verr != nil {
		return Extraction{}, &InvalidOutputError{Errors: verr.Error()}
	}
	out.Data = data
	return out, nil
}

// checkAnswer reads a model's answer as one JSON object (accepting a
// Markdown code fence around it) and validates it, returning it compacted.
func checkAnswer(answer string, validate func([]byte) error) (json.RawMessage, error) {
	answer = strings.TrimSpace(answer)
	if rest, ok := strings.CutPrefix(answer, "```"); ok {
		rest = strings.TrimPrefix(rest, "json")
		answer = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "```"))
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(answer)); err != nil {
		return nil, fmt.Errorf("the answer is not JSON: %v", err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte("{")) {
		return nil, errors.New("the answer must be a JSON object")
	}
	if err := validate(buf.Bytes()); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func addUsage(a, b *Usage) *Usage {
	if b == nil {
		return a
	}
	if a == nil {
		c := *b
		return &c
	}
	return &Usage{
		PromptTokens:     a.PromptTokens + b.PromptTokens,
		CompletionTokens: a.CompletionTokens + b.CompletionTokens,
		TotalTokens:      a.TotalTokens + b.TotalTokens,
	}
}
