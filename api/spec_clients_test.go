package api_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/api"
	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/workflows"
)

// The tests in this file check what code generators read from the OpenAPI
// document: that every job type's input and result is typed (a oneOf with
// a discriminator on `type`), that nothing in it is unused, and the details
// that generated clients and Swagger UI get wrong otherwise.

const oasSchemaRef = "#/components/schemas/"

// oasJobTypes says which schemas type each job type's input and result:
// those named as the Go types that the kind's workflow takes and returns.
func oasJobTypes() map[string]struct{ input, result string } {
	m := map[string]struct{ input, result string }{}
	for _, k := range workflows.Kinds {
		m[k.Name] = struct{ input, result string }{k.InputType().Name(), k.ResultType().Name()}
	}
	return m
}

func TestSpecJobTypesAreDiscriminated(t *testing.T) {
	doc := oasLoad(t)
	oasJobTypes, types := oasJobTypes(), workflows.Kinds.Names()
	for _, tc := range []struct {
		union string
		// field is the property that the type decides, and schema its
		// schema for a job type.
		field  string
		schema func(typ string) string
	}{
		{"StartRequest", "input", func(typ string) string { return oasJobTypes[typ].input }},
		{"Job", "input", func(typ string) string { return oasJobTypes[typ].input }},
		{"Result", "result", func(typ string) string { return oasJobTypes[typ].result }},
	} {
		t.Run(tc.union, func(t *testing.T) {
			ref := doc.Components.Schemas[tc.union]
			require.NotNil(t, ref, "no schema %s", tc.union)
			union := ref.Value
			require.NotNil(t, union.Discriminator, "%s has no discriminator", tc.union)
			require.Equal(t, "type", union.Discriminator.PropertyName)
			require.Len(t, union.OneOf, len(types), "%s must have one variant per job type", tc.union)
			require.Len(t, union.Discriminator.Mapping, len(types))
			var variants []string
			for _, v := range union.OneOf {
				variants = append(variants, v.Ref)
			}
			for _, typ := range types {
				mapped := union.Discriminator.Mapping[typ].Ref
				require.Contains(t, variants, mapped, "the mapping of %s is not one of %s's variants", typ, tc.union)
				variant := doc.Components.Schemas[strings.TrimPrefix(mapped, oasSchemaRef)]
				require.NotNil(t, variant, mapped)
				props, required := oasFlatten(variant.Value)
				require.Contains(t, required, "type", "%s", mapped)
				typeProp := props["type"]
				require.NotNil(t, typeProp, "%s has no type property", mapped)
				require.Equal(t, []any{typ}, typeProp.Value.Enum, "%s's type must be exactly %q", mapped, typ)
				field := props[tc.field]
				require.NotNil(t, field, "%s has no %s", mapped, tc.field)
				require.Equal(t, oasSchemaRef+tc.schema(typ), field.Ref, "%s.%s", mapped, tc.field)
			}
		})
	}
	// Lists carry what visibility knows, never input or steps
	// (job.Client.List): their items are summaries, not Job.
	list := doc.Components.Schemas["JobList"].Value.Properties["jobs"].Value.Items
	require.Equal(t, oasSchemaRef+"JobSummary", list.Ref)
	summary := doc.Components.Schemas["JobSummary"].Value
	require.NotNil(t, summary.AdditionalProperties.Has)
	require.False(t, *summary.AdditionalProperties.Has, "JobSummary must reject what lists do not carry")
	var props []string
	for p := range summary.Properties {
		props = append(props, p)
	}
	sort.Strings(props)
	require.Equal(t, []string{"created_at", "error", "finished_at", "id", "priority", "status", "tenant", "type"}, props)
	fields, always := oasJSONFields(reflect.TypeOf(job.View{}))
	for _, p := range props {
		require.Contains(t, fields, p, "JobSummary.%s is not a field of job.View", p)
	}
	require.ElementsMatch(t, always, summary.Required)
}

// oasRefs returns every component a JSON value refers to: "$ref"s and
// discriminator mappings.
func oasRefs(v any, into func(string)) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			switch {
			case k == "$ref":
				if s, ok := e.(string); ok {
					into(s)
				}
			case k == "discriminator":
				if m, ok := e.(map[string]any)["mapping"].(map[string]any); ok {
					for _, r := range m {
						into(r.(string))
					}
				}
			}
			oasRefs(e, into)
		}
	case []any:
		for _, e := range v {
			oasRefs(e, into)
		}
	}
}

// TestSpecNoUnusedComponents: every component is reachable from a path.
// An unused one is a lint error and, worse, usually a type that the
// operations fail to name (as the per-type inputs and results once were).
func TestSpecNoUnusedComponents(t *testing.T) {
	var doc map[string]any
	require.NoError(t, json.Unmarshal(api.Spec(), &doc))
	components := doc["components"].(map[string]any)
	lookup := func(ref string) (any, bool) {
		kind, name, ok := strings.Cut(strings.TrimPrefix(ref, "#/components/"), "/")
		require.True(t, ok && strings.HasPrefix(ref, "#/components/"), "unexpected $ref %q", ref)
		group, _ := components[kind].(map[string]any)
		c, found := group[name]
		return c, found
	}
	reached := map[string]bool{}
	var queue []string
	push := func(ref string) {
		if !reached[ref] {
			reached[ref] = true
			queue = append(queue, ref)
		}
	}
	oasRefs(doc["paths"], push)
	// The deliveries Docket makes (OpenAPI 3.1's webhooks) use components too.
	oasRefs(doc["webhooks"], push)
	// Security schemes are named by security requirements, not $refs.
	for _, req := range doc["security"].([]any) {
		for name := range req.(map[string]any) {
			push("#/components/securitySchemes/" + name)
		}
	}
	for len(queue) > 0 {
		ref := queue[0]
		queue = queue[1:]
		c, ok := lookup(ref)
		require.True(t, ok, "%s refers to no component", ref)
		oasRefs(c, push)
	}
	var unused []string
	for kind, group := range components {
		for name := range group.(map[string]any) {
			if ref := "#/components/" + kind + "/" + name; !reached[ref] {
				unused = append(unused, ref)
			}
		}
	}
	sort.Strings(unused)
	require.Empty(t, unused, "components no operation uses")
}

// TestSpecRequestSchemasHaveNoDefaults: no schema a request body uses has a
// `default`. openapi-typescript (with its default options) makes a property
// with a default required unless the schema is inline in the request body,
// so `{"type": "sum", "input": {"start": 1, "end": 10}}` would not compile
// for want of work_ms. The descriptions state the defaults instead.
func TestSpecRequestSchemasHaveNoDefaults(t *testing.T) {
	doc := oasLoad(t)
	seen := map[*openapi3.Schema]bool{}
	var walk func(path string, s *openapi3.SchemaRef)
	walk = func(path string, ref *openapi3.SchemaRef) {
		if ref == nil || ref.Value == nil || seen[ref.Value] {
			return
		}
		s := ref.Value
		seen[s] = true
		require.Nil(t, s.Default, "%s has default %v", path, s.Default)
		for name, p := range s.Properties {
			walk(path+"."+name, p)
		}
		walk(path+"[]", s.Items)
		if s.AdditionalProperties.Schema != nil {
			walk(path+"{}", s.AdditionalProperties.Schema)
		}
		for _, group := range []openapi3.SchemaRefs{s.OneOf, s.AnyOf, s.AllOf} {
			for _, part := range group {
				walk(path+"|"+strings.TrimPrefix(part.Ref, oasSchemaRef), part)
			}
		}
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.RequestBody == nil || op.RequestBody.Value == nil {
				continue
			}
			for mt, content := range op.RequestBody.Value.Content {
				walk(method+" "+path+" "+mt, content.Schema)
			}
		}
	}
}

// TestSpecIdempotencyKeyNotPrefilled: Swagger UI fills a parameter's
// example (or default) into "Try it out", so a second try reused the
// example key with another body and got 422 idempotency-key-reused. The
// header must start empty.
func TestSpecIdempotencyKeyNotPrefilled(t *testing.T) {
	var doc struct {
		Components struct {
			Parameters map[string]map[string]any `json:"parameters"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(api.Spec(), &doc))
	p := doc.Components.Parameters["IdempotencyKey"]
	require.Equal(t, "Idempotency-Key", p["name"])
	require.Contains(t, p["description"], "fresh, unique key")
	schema, _ := p["schema"].(map[string]any)
	for _, key := range []string{"example", "examples", "default"} {
		require.NotContains(t, p, key, "the Idempotency-Key parameter has %s", key)
		require.NotContains(t, schema, key, "the Idempotency-Key parameter's schema has %s", key)
	}
	// The parameter is only used by reference, so no operation can carry
	// its own copy with an example.
	loaded := oasLoad(t)
	for path, item := range loaded.Paths.Map() {
		for method, op := range item.Operations() {
			for _, ref := range append(slices.Clone(item.Parameters), op.Parameters...) {
				if ref.Value != nil && ref.Value.Name == "Idempotency-Key" {
					require.Equal(t, "#/components/parameters/IdempotencyKey", ref.Ref, "%s %s", method, path)
				}
			}
		}
	}
}
