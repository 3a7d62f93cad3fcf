package job

import (
	"bytes"
	"errors"

	jsonv2 "github.com/go-json-experiment/json"
)

// InputError says which field of a job's input is wrong and why. The API
// turns it into a 422 and the workflow into a non-retryable failure.
type InputError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e *InputError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// Input is implemented by every job type's input.
type Input interface {
	// Normalize fills defaults and checks every field, returning an
	// *InputError for the first field that is wrong.
	Normalize() error
}

// DecodeStrict decodes one JSON value into v: object member names must
// match the json tags exactly (not case-insensitively), an object may name
// a member only once, unknown members are errors, and so is anything after
// the value or a null where the value should be. It is the one decoder of
// requests and of every job type's input, so that what the API accepts is
// exactly what it documents; errors name the offending member.
//
// encoding/json matches names case-insensitively and lets the last of
// duplicate names win, so {"TYPE":"sum"} or {"type":"a","type":"b"} were
// accepted. encoding/json/v2 decodes strictly but Go 1.26 ships it only
// behind GOEXPERIMENT=jsonv2; github.com/go-json-experiment/json is the
// same package as a module, kept by its authors, and switching to
// encoding/json/v2 is an import change once it is standard. Its checks of
// duplicate names cover the whole document, including members captured as
// json.RawMessage (the request's input) and decoded later with their type.
func DecodeStrict(data []byte, v any) error {
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		return errors.New("the JSON value is null, not an object")
	}
	return jsonv2.Unmarshal(data, v, jsonv2.RejectUnknownMembers(true))
}
