package steps

import (
	"time"

	"github.com/docket-dev/docket/job"
)

// The step of the sum job.
var (
	// Sum adds a range of integers. It may take up to job.SumMaxWorkMS on
	// purpose; the heartbeat timeout, not the attempt's, notices a dead worker.
	Sum = Def[job.SumInput, job.SumResult]{
		Name:         "sum",
		StartToClose: time.Duration(job.SumMaxWorkMS)*time.Millisecond + time.Minute,
		Heartbeat:    10 * time.Second,
		Retry:        DefaultRetry,
	}
)
