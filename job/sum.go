package job

import "fmt"

// TypeSum is the job type that adds a range of integers.
const TypeSum = "sum"

// Bounds of the sum job's input. They keep (start+end)*count inside int64.
const (
	SumMaxAbs    = 1_000_000_000
	SumMaxWorkMS = 60_000
)

// SumInput is the input of a sum job: the integers from Start to End.
// WorkMS makes the step take that long, heartbeating, so that long jobs,
// cancellation and crashes can be exercised.
type SumInput struct {
	Start  *int64 `json:"start"`
	End    *int64 `json:"end"`
	WorkMS int64  `json:"work_ms,omitempty"`
}

// Normalize implements Input.
func (in *SumInput) Normalize() error {
	switch {
	case in.Start == nil:
		return &InputError{"input.start", "is required"}
	case in.End == nil:
		return &InputError{"input.end", "is required"}
	case *in.Start < -SumMaxAbs || *in.Start > SumMaxAbs:
		return &InputError{"input.start", fmt.Sprintf("must be between %d and %d", -SumMaxAbs, SumMaxAbs)}
	case *in.End < -SumMaxAbs || *in.End > SumMaxAbs:
		return &InputError{"input.end", fmt.Sprintf("must be between %d and %d", -SumMaxAbs, SumMaxAbs)}
	case *in.Start > *in.End:
		return &InputError{"input.end", "must not be less than input.start"}
	case in.WorkMS < 0 || in.WorkMS > SumMaxWorkMS:
		return &InputError{"input.work_ms", fmt.Sprintf("must be between 0 and %d", SumMaxWorkMS)}
	}
	return nil
}

// SumResult is the result of a sum job.
type SumResult struct {
	Sum   int64 `json:"sum"`
	Count int64 `json:"count"`
}
