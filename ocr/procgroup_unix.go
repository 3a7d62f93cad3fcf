//go:build unix

package ocr

import (
	"os/exec"
	"syscall"
)

// ownProcessGroup makes cmd the leader of a new process group and its
// cancellation kill that whole group, so that nothing the tool started
// outlives it (tesseract and poppler start nothing, but a wrapper script
// around them, as deployments and tests use, does).
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The group's id is the leader's pid; a negative pid signals
		// the group. Kill the leader itself too in case the group is
		// already gone (ESRCH), which the caller treats as done.
		err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		if kerr := cmd.Process.Kill(); err != nil {
			return kerr
		}
		return nil
	}
}
