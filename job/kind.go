package job

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"

	"go.temporal.io/sdk/workflow"
)

// Kind declares one job type: the name that the API, the workflow type and
// the temporal CLI share, the workflow that runs it, the types of its input
// and result (taken from the workflow's signature, so they cannot drift
// apart) and the steps it may run. workflows.Kinds is the one list of
// them; everything that needs to know the job types reads it.
type Kind struct {
	// Name is the job type and the workflow type name, recorded in every
	// job's history: it must never change.
	Name string
	// Workflow is the workflow function, registered under Name.
	Workflow any
	// Steps are the steps the workflow may run, in the order it runs them.
	Steps []StepRef

	newInput func() Input
	input    reflect.Type
	result   reflect.Type
}

// StepRef names a step of a kind and the queue it runs on (relative to the
// job's task queue, as steps.Queue), so that a worker can be checked to
// serve every step of the kinds it runs.
type StepRef struct {
	Name  string
	Queue string
}

// Define declares the kind name run by workflow wf, whose steps are steps.
// The compiler ties the kind's input (In, whose pointer is an Input) and
// result (Out) to the workflow's signature.
func Define[In any, Out any, P interface {
	*In
	Input
}](name string, wf func(workflow.Context, In) (Out, error), steps ...StepRef) Kind {
	return Kind{
		Name:     name,
		Workflow: wf,
		Steps:    steps,
		newInput: func() Input { return P(new(In)) },
		input:    reflect.TypeFor[In](),
		result:   reflect.TypeFor[Out](),
	}
}

// NewInput returns an empty input of the kind.
func (k Kind) NewInput() Input { return k.newInput() }

// InputType is the Go type of the kind's input.
func (k Kind) InputType() reflect.Type { return k.input }

// ResultType is the Go type of the kind's result.
func (k Kind) ResultType() reflect.Type { return k.result }

// Decode decodes raw strictly (unknown fields and trailing data are errors,
// see DecodeStrict) into the kind's input and normalizes it.
func (k Kind) Decode(raw json.RawMessage) (Input, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return nil, &InputError{"input", "is required"}
	}
	in := k.NewInput()
	if err := DecodeStrict(raw, in); err != nil {
		return nil, &InputError{"input", err.Error()}
	}
	if err := in.Normalize(); err != nil {
		return nil, err
	}
	return in, nil
}

// Kinds is a list of job kinds, in the order the API documents them.
type Kinds []Kind

// Lookup returns the kind called name.
func (ks Kinds) Lookup(name string) (Kind, bool) {
	for _, k := range ks {
		if k.Name == name {
			return k, true
		}
	}
	return Kind{}, false
}

// Names lists the kinds' names.
func (ks Kinds) Names() []string {
	names := make([]string, len(ks))
	for i, k := range ks {
		names[i] = k.Name
	}
	return names
}

// Decode decodes the input of the job type called name; an unknown type
// is an *InputError on "type".
func (ks Kinds) Decode(name string, raw json.RawMessage) (Input, error) {
	k, ok := ks.Lookup(name)
	if !ok {
		return nil, &InputError{"type", fmt.Sprintf("unknown job type %q", name)}
	}
	return k.Decode(raw)
}
