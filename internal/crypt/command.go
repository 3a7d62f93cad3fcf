package crypt

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"gocloud.dev/secrets"
)

// Exit codes of KeyringCommand, as the other commands of Docket use them.
const (
	exitOK    = 0
	exitError = 1 // the command could not do its work (I/O, the KMS)
	exitUsage = 2 // the command line or the key ring is wrong
)

const keyringUsage = `usage: keyring new [-kms URL] PATH
       keyring add [-kms URL] PATH
       keyring activate PATH ID

new       writes a key ring with one random key to PATH (mode 0600), unless
          a file is there already (then it changes nothing).
add       adds a new random key LAST to the key ring at PATH: it only
          decrypts, so nothing changes until it is activated. Restart every
          worker and API process, so that all of them can read it.
activate  makes key ID the first, the one that encrypts from each process's
          next start; the older keys still decrypt. Rotation is add,
          restart everything, activate, restart everything: a process that
          has not loaded a key cannot read what it encrypts, and a job
          whose input it cannot read fails.

-kms URL wraps the new key with that gocloud.dev/secrets keeper (the one
DOCKET_ENCRYPTION_KMS_URL names), so that the file alone reads nothing.
Keys are never printed: the commands print the new key's id.
`

// KeyringCommand runs "keyring ARGS..." (args excludes the command's own
// name) and returns the process's exit code: 0, 1 when it could not do its
// work, 2 when the command line or the key ring is wrong. It lives here
// rather than in a main so that tests run it in-process and any binary
// can dispatch to it.
func KeyringCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, keyringUsage)
		return exitUsage
	}
	switch args[0] {
	case "new", "add":
	case "activate":
		if len(args) != 3 {
			fmt.Fprintf(stderr, "keyring activate: want PATH and ID\n%s", keyringUsage)
			return exitUsage
		}
		if err := activateKey(args[1], args[2]); err != nil {
			fmt.Fprintf(stderr, "keyring activate: %v\n", err)
			var rerr *ringError
			if errors.As(err, &rerr) {
				return exitUsage
			}
			return exitError
		}
		fmt.Fprintf(stdout, "key %s of %s encrypts from each process's next start\n", args[2], args[1])
		return exitOK
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, keyringUsage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "keyring: unknown command %q\n%s", args[0], keyringUsage)
		return exitUsage
	}
	name := "keyring " + args[0]
	fset := flag.NewFlagSet(name, flag.ContinueOnError)
	fset.SetOutput(stderr)
	kmsURL := fset.String("kms", "", "gocloud.dev/secrets URL of the keeper that wraps the new key (default: the key is stored plain)")
	if err := fset.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fset.NArg() != 1 {
		fmt.Fprintf(stderr, "%s: want one PATH, got %d arguments\n%s", name, fset.NArg(), keyringUsage)
		return exitUsage
	}
	path := fset.Arg(0)

	ctx := context.Background()
	var keeper *secrets.Keeper
	if *kmsURL != "" {
		var err error
		if keeper, err = openKeeper(ctx, *kmsURL); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			return exitError
		}
		defer keeper.Close()
	}

	if args[0] == "new" {
		created, id, err := generateRingFile(ctx, path, keeper)
		switch {
		case err != nil:
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			return exitError
		case created:
			fmt.Fprintf(stdout, "created key ring %s with key %s\n", path, id)
		default:
			fmt.Fprintf(stdout, "key ring %s exists: left as it is\n", path)
		}
		return exitOK
	}
	id, err := addKey(ctx, path, keeper)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		// A ring that does not decode is the operator's to fix; the rest
		// (a missing file, the disk, the KMS) is not a usage error.
		var rerr *ringError
		if errors.As(err, &rerr) {
			return exitUsage
		}
		return exitError
	}
	fmt.Fprintf(stdout, "added key %s to %s (decrypts only): restart every process, then run keyring activate %s %s\n", id, path, path, id)
	return exitOK
}
