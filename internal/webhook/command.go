package webhook

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// SecretCommand is "docket-api webhook-secret new FILE": it writes a new
// server-wide signing secret (DOCKET_WEBHOOK_SECRET) into FILE, mode 0600,
// refusing to replace one, and prints nothing secret. It returns the exit
// status.
func SecretCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) != 2 || args[0] != "new" {
		fmt.Fprintln(stderr, "usage: docket-api webhook-secret new FILE")
		return 2
	}
	if err := newSecretFile(args[1]); err != nil {
		fmt.Fprintln(stderr, "webhook-secret:", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote a webhook signing secret to %s; set DOCKET_WEBHOOK_SECRET to its content\n", args[1])
	return 0
}

func newSecretFile(path string) error {
	s, err := NewSecret()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s exists; not replacing a secret receivers may verify with", path)
	}
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(f, s.Text()); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
