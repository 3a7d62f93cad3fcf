//go:build !unix

package ocr

import "os/exec"

// ownProcessGroup kills only the tool itself where there are no process
// groups to kill.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.Cancel = func() error { return cmd.Process.Kill() }
}
