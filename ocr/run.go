package ocr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// waitDelay bounds how long Wait waits for a killed tool's output pipes to
// close. None of the tools starts children, but if one ever did (a
// wrapper script, say) a grandchild holding the pipe open must not keep
// a canceled page from returning.
const waitDelay = 2 * time.Second

// maxStderr is how much of a tool's error output is kept: a damaged PDF can
// make poppler print a warning per object, megabytes of them, and only the
// first lines say what is wrong.
const maxStderr = 64 << 10

// toolError is a tool that ran and exited unsuccessfully. Callers classify
// it (into a DocumentError when the exit status and message show the
// document is at fault); left unclassified it is a retryable failure.
type toolError struct {
	tool   string
	code   int // exit status; -1 when killed by a signal
	stderr string
}

func (e *toolError) Error() string {
	if e.code < 0 {
		return fmt.Sprintf("%s was killed: %s", e.tool, e.detail())
	}
	return fmt.Sprintf("%s exited with status %d: %s", e.tool, e.code, e.detail())
}

// detail is the first lines of the tool's error output, for messages.
func (e *toolError) detail() string {
	var lines []string
	for _, l := range strings.Split(e.stderr, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
		if len(lines) == 3 {
			break
		}
	}
	if len(lines) == 0 {
		return "no error output"
	}
	return strings.Join(lines, "; ")
}

// errOutputTooLarge is returned (wrapped) by runCapped for a tool whose
// standard output passed the limit it was given.
var errOutputTooLarge = errors.New("output too large")

// run runs bin with args and returns its standard output. env is added to
// the worker's environment. A canceled ctx kills the tool at once (it holds
// no state worth a graceful stop), with any process it started, and run
// returns ctx's error, wrapped.
func run(ctx context.Context, env []string, bin string, args ...string) ([]byte, error) {
	return runCapped(ctx, env, 0, bin, args...)
}

// runCapped is run with standard output limited to maxOut bytes (0: no
// limit). A tool writing more is killed at once, rather than left to fill
// memory, and the error wraps errOutputTooLarge.
func runCapped(ctx context.Context, env []string, maxOut int, bin string, args ...string) ([]byte, error) {
	out, _, err := runTool(ctx, toolRun{env: env, maxOut: maxOut}, bin, args...)
	return out, err
}

// toolRun is how runTool runs a tool.
type toolRun struct {
	// env is added to the worker's environment.
	env []string
	// maxOut bounds standard output (0: no limit), as for runCapped.
	maxOut int
	// stdin, when not nil, is the tool's standard input; otherwise it
	// reads from the null device.
	stdin []byte
}

// runTool runs bin as run does and returns its standard output and (the
// first maxStderr bytes of) its error output, which poppler uses for
// warnings about a page it still renders.
//
// The tool runs in a process group of its own, and cancellation kills the
// whole group: a tool (or a wrapper script around one) that started
// children of its own leaves none of them running once runTool returns.
func runTool(ctx context.Context, r toolRun, bin string, args ...string) (stdoutData []byte, stderrText string, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	cmd := exec.CommandContext(ctx, bin, args...)
	if len(r.env) > 0 {
		// Later entries win in exec, so env overrides the worker's own.
		cmd.Env = append(os.Environ(), r.env...)
	}
	if r.stdin != nil {
		cmd.Stdin = bytes.NewReader(r.stdin)
	}
	ownProcessGroup(cmd)
	cmd.WaitDelay = waitDelay
	var stdout bytes.Buffer
	stderr := &cappedBuffer{max: maxStderr}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	maxOut := r.maxOut
	name := filepath.Base(bin)
	if maxOut > 0 {
		cmd.Stdout = &limitWriter{w: &stdout, left: maxOut, over: func() {
			cancel(fmt.Errorf("%s wrote more than %d bytes: %w", name, maxOut, errOutputTooLarge))
		}}
	}
	err = cmd.Run()
	if cause := context.Cause(ctx); cause != nil {
		if errors.Is(cause, errOutputTooLarge) {
			return nil, "", cause
		}
		return nil, "", fmt.Errorf("%s: %w", name, ctx.Err())
	}
	if err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return nil, "", &toolError{tool: name, code: exitErr.ExitCode(), stderr: stderr.String()}
		}
		if errors.Is(err, exec.ErrNotFound) {
			return nil, "", fmt.Errorf("%s not found (scripts/deps.sh installs it): %w", name, err)
		}
		return nil, "", fmt.Errorf("run %s: %w", name, err)
	}
	return stdout.Bytes(), stderr.String(), nil
}

// cappedBuffer keeps the first max bytes written to it and drops the rest,
// still reporting success so the tool is not disturbed by a broken pipe.
type cappedBuffer struct {
	buf bytes.Buffer
	max int
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *cappedBuffer) String() string { return b.buf.String() }

// limitWriter passes on at most left bytes and calls over, once, when more
// arrive; the write then fails so that the copying goroutine stops too.
type limitWriter struct {
	w    *bytes.Buffer
	left int
	over func()
	done bool
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if len(p) > l.left {
		if !l.done {
			l.done = true
			l.over()
		}
		return 0, errOutputTooLarge
	}
	l.left -= len(p)
	return l.w.Write(p)
}
