package job

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TypeExtract is the job type of structured extraction: OCR, then an LLM
// fills in an object that conforms to the caller's JSON Schema.
const TypeExtract = "extract"

// StepExtract is the LLM step of an extract job.
const StepExtract = "extract"

// Bounds of the extract job's input.
const (
	// ExtractMaxSchemaBytes bounds input.schema, as sent.
	ExtractMaxSchemaBytes = 16 << 10
	// ExtractMaxInstructionsChars bounds input.instructions, in characters.
	ExtractMaxInstructionsChars = 2000
	// SchemaDraft is the JSON Schema dialect of input.schema.
	SchemaDraft = "https://json-schema.org/draft/2020-12/schema"
)

// ExtractInput is the input of an extract job.
type ExtractInput struct {
	DocumentID string `json:"document_id"`
	// Schema is the JSON Schema (draft 2020-12) the extracted object must
	// conform to. It is kept as sent, so that history and views show it
	// unchanged.
	Schema       json.RawMessage `json:"schema"`
	Instructions string          `json:"instructions,omitempty"`
	Language     string          `json:"language,omitempty"`
}

// Normalize implements Input.
func (in *ExtractInput) Normalize() error {
	if in.DocumentID == "" {
		return &InputError{"input.document_id", "is required"}
	}
	if !documentIDPattern.MatchString(in.DocumentID) {
		return &InputError{"input.document_id", "must be the id of an uploaded document (64 hex digits)"}
	}
	if _, err := CompileSchema(in.Schema); err != nil {
		return err
	}
	if utf8.RuneCountInString(in.Instructions) > ExtractMaxInstructionsChars {
		return &InputError{"input.instructions", fmt.Sprintf("must be at most %d characters", ExtractMaxInstructionsChars)}
	}
	if in.Language == "" {
		in.Language = DefaultLanguage
	}
	if !languagePattern.MatchString(in.Language) {
		return &InputError{"input.language", "must be tesseract language codes such as \"eng\" or \"eng+deu\""}
	}
	return nil
}

// DocumentRef implements DocumentJob.
func (in *ExtractInput) DocumentRef() string { return in.DocumentID }

// DocumentRef implements DocumentJob.
func (in *DocumentInput) DocumentRef() string { return in.DocumentID }

// DocumentJob is implemented by the inputs of job types that read an
// uploaded document, so that the API can refuse a job naming a document
// that was never uploaded without knowing every such type.
type DocumentJob interface {
	Input
	DocumentRef() string
}

// Schema is a compiled input.schema: it validates extracted objects.
type Schema struct {
	s *jsonschema.Schema
}

// noLoader refuses every $ref outside the schema itself: a schema sent to
// the API must not make the API or a worker read files or fetch URLs. The
// draft's own meta-schemas are built into the validator and need no loader.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("$ref %q: only references inside the schema are allowed", url)
}

// schemaURL names input.schema for the validator and its messages.
const schemaURL = "urn:docket:input.schema"

// CompileSchema checks that raw is a JSON Schema draft 2020-12 object of at
// most ExtractMaxSchemaBytes, returning an *InputError for input.schema if
// it is not, and compiles it.
func CompileSchema(raw json.RawMessage) (*Schema, error) {
	bad := func(msg string) error { return &InputError{"input.schema", msg} }
	trimmed := bytes.TrimSpace(raw)
	switch {
	case len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")):
		return nil, bad("is required")
	case len(raw) > ExtractMaxSchemaBytes:
		return nil, bad(fmt.Sprintf("must be at most %d bytes", ExtractMaxSchemaBytes))
	case trimmed[0] != '{':
		return nil, bad("must be a JSON Schema object")
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(trimmed))
	if err != nil {
		return nil, bad("is not JSON: " + err.Error())
	}
	if s, ok := doc.(map[string]any)["$schema"]; ok && s != SchemaDraft && s != SchemaDraft+"#" {
		return nil, bad(fmt.Sprintf("$schema must be %q (draft 2020-12) or absent", SchemaDraft))
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(noLoader{})
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, bad("is not a valid JSON Schema (draft 2020-12): " + flatten(err))
	}
	s, err := c.Compile(schemaURL)
	if err != nil {
		return nil, bad("is not a valid JSON Schema (draft 2020-12): " + flatten(err))
	}
	return &Schema{s: s}, nil
}

// Validate checks a JSON value (as raw text) against the schema. It
// returns nil, or an error listing every violation on one line each.
func (s *Schema) Validate(raw []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("the answer is not JSON: %w", err)
	}
	if err := s.s.Validate(v); err != nil {
		return errors.New(flatten(err))
	}
	return nil
}

// flatten turns the validator's indented, multi-line message into
// "; "-separated lines, without the schema's internal URL.
func flatten(err error) string {
	var ve *jsonschema.ValidationError
	msg := err.Error()
	if errors.As(err, &ve) {
		msg = ve.Error()
	}
	var parts []string
	for _, line := range strings.Split(msg, "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "- "))
		line = strings.ReplaceAll(line, schemaURL, "input.schema")
		if line != "" && !strings.HasPrefix(line, "jsonschema validation failed") {
			parts = append(parts, line)
		}
	}
	return strings.Join(parts, "; ")
}

// ExtractResult is the result of the extract step and of an extract job.
type ExtractResult struct {
	DocumentID string `json:"document_id"`
	// Data is the extracted object; it conforms to input.schema.
	Data json.RawMessage `json:"data"`
	// Model is the model that answered, as the endpoint names it.
	Model string `json:"model"`
	// Usage adds up the token usage of the step's requests, when the
	// endpoint reported it.
	Usage *Usage `json:"usage,omitempty"`
	Pages int    `json:"pages"`
	// Truncated says the document was longer than the model's input limit
	// and only its beginning was read.
	Truncated bool `json:"truncated,omitempty"`
}

// ExtractTextInput is the input of the extract step: the stored page texts
// of the job and what to extract from them.
type ExtractTextInput struct {
	TextInput
	DocumentID   string          `json:"document_id"`
	Schema       json.RawMessage `json:"schema"`
	Instructions string          `json:"instructions,omitempty"`
}
