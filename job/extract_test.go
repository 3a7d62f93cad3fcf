package job_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/workflows"
)

func TestExtractInput(t *testing.T) {
	id := strings.Repeat("a", 64)
	good := `{"type":"object","properties":{"total":{"type":"number"}},"required":["total"]}`
	in, err := workflows.Kinds.Decode(job.TypeExtract, json.RawMessage(`{"document_id":"`+id+`","schema":`+good+`}`))
	require.NoError(t, err)
	require.Equal(t, "eng", in.(*job.ExtractInput).Language)
	require.Equal(t, id, in.(job.DocumentJob).DocumentRef())

	for name, tc := range map[string]struct{ schema, field, msg string }{
		"missing":    {``, "input.schema", "is required"},
		"not object": {`[1]`, "input.schema", "JSON Schema object"},
		"bad type":   {`{"type":"integr"}`, "input.schema", "valid JSON Schema"},
		"bad min":    {`{"type":"string","minLength":-1}`, "input.schema", "valid JSON Schema"},
		"file ref":   {`{"$ref":"file:///etc/passwd"}`, "input.schema", "only references inside the schema"},
		"old draft":  {`{"$schema":"http://json-schema.org/draft-04/schema#"}`, "input.schema", "draft 2020-12"},
		"too large":  {`{"description":"` + strings.Repeat("x", job.ExtractMaxSchemaBytes) + `"}`, "input.schema", "at most"},
	} {
		t.Run(name, func(t *testing.T) {
			body := `{"document_id":"` + id + `"`
			if tc.schema != "" {
				body += `,"schema":` + tc.schema
			}
			_, err := workflows.Kinds.Decode(job.TypeExtract, json.RawMessage(body+`}`))
			var ie *job.InputError
			require.ErrorAs(t, err, &ie)
			require.Equal(t, tc.field, ie.Field)
			require.Contains(t, ie.Message, tc.msg)
		})
	}
	_, err = workflows.Kinds.Decode(job.TypeExtract, json.RawMessage(`{"document_id":"`+id+`","schema":{},"instructions":"`+strings.Repeat("é", 2001)+`"}`))
	require.ErrorContains(t, err, "input.instructions")

	s, err := job.CompileSchema(json.RawMessage(good))
	require.NoError(t, err)
	require.NoError(t, s.Validate([]byte(`{"total":3.5}`)))
	err = s.Validate([]byte(`{"total":"3.5"}`))
	require.ErrorContains(t, err, "/total")
	t.Log(err)
}
