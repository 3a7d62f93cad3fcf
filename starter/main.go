// Command starter starts a Docket job straight through Temporal, without
// the HTTP API, and can wait for its result:
//
//	go run ./starter -type sum -input '{"start":1,"end":10}' -wait
//
// The job is the same as one started by POST /jobs and is listed by GET /jobs.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/docket-dev/docket/config"
	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/workflows"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "starter:", err)
		os.Exit(1)
	}
}

func run() error {
	jobType := flag.String("type", job.TypeSum, "job type")
	input := flag.String("input", "", "the job's input as JSON")
	timeout := flag.String("timeout", "", "time limit of the whole job, such as 90s")
	key := flag.String("idempotency-key", "", "start at most one job for this key")
	wait := flag.Bool("wait", false, "wait for the job to end and print its result")
	flag.Parse()

	cfg, err := config.Load()
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c, err := cfg.Dial(log, config.Identity("starter"), false)
	if err != nil {
		return err
	}
	defer c.Close()
	jobs := &job.Client{Temporal: c, TaskQueue: cfg.TaskQueue, Kinds: workflows.Kinds, JobTimeout: cfg.JobTimeout, QueryTimeout: cfg.QueryTimeout,
		DataConverter: cfg.DataConverter(), FailureConverter: cfg.FailureConverter()}

	ctx := context.Background()
	v, _, err := jobs.Start(ctx, job.StartRequest{Type: *jobType, Input: json.RawMessage(*input), Timeout: *timeout, IdempotencyKey: *key})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "job %s: %s\n", v.ID, v.Status)
	if !*wait {
		fmt.Println(v.ID)
		return nil
	}
	for {
		v, res, err := jobs.Result(ctx, v.ID, time.Minute)
		switch {
		case err == nil:
			return json.NewEncoder(os.Stdout).Encode(res)
		case errors.Is(err, job.ErrNotFinished) && !v.Status.Terminal():
			continue
		case errors.Is(err, job.ErrNotFinished):
			if v.Error != nil {
				return fmt.Errorf("job %s %s: %s: %s", v.ID, v.Status, v.Error.Type, v.Error.Message)
			}
			return fmt.Errorf("job %s %s", v.ID, v.Status)
		default:
			return err
		}
	}
}
