package auth

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Exit codes of KeysCommand.
const (
	exitOK    = 0
	exitError = 1 // the command could not do its work (I/O)
	exitUsage = 2 // the command line or the keys file is wrong
)

const keysUsage = `usage: docket-api keys new --tenant TENANT --scopes SCOPE[,SCOPE...] [flags]

Makes a new API key: prints its secret (once) and the entry for the keys
file (DOCKET_API_KEYS_FILE), or adds the entry to it with --file.
Run "docket-api keys new -h" for the flags.
`

// KeysCommand runs "docket-api keys ARGS..." (args excludes "keys") and
// returns the process's exit code: 0, 1 when it could not do its work, 2
// when the command line or the keys file is wrong. It lives here rather
// than in the command so that tests run it in-process.
func KeysCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, keysUsage)
		return exitUsage
	}
	switch args[0] {
	case "new":
		return keysNew(args[1:], stdout, stderr, time.Now())
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, keysUsage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "docket-api keys: unknown command %q\n%s", args[0], keysUsage)
		return exitUsage
	}
}

// flagOf names the flag that sets each field Key.check may complain about.
var flagOf = map[string]string{
	"id":                  "--id",
	"tenant":              "--tenant",
	"scopes":              "--scopes",
	"max_open_jobs":       "--max-open-jobs",
	"requests_per_second": "--rps",
	"max_priority":        "--max-priority",
}

func keysNew(args []string, stdout, stderr io.Writer, now time.Time) int {
	fset := flag.NewFlagSet("docket-api keys new", flag.ContinueOnError)
	fset.SetOutput(stderr)
	tenant := fset.String("tenant", "", "tenant the key reaches (required unless --scopes has admin)")
	scopes := fset.String("scopes", "", "comma-separated scopes: "+scopeList())
	id := fset.String("id", "", `key id, for logs (default: the tenant, "-" and 6 random hex digits)`)
	expires := fset.String("expires", "", "when the key stops working: an RFC 3339 time, or a duration from now such as 720h (default: never)")
	maxOpenJobs := fset.Int("max-open-jobs", 0, "most of the tenant's jobs that may be open at once (0: no limit)")
	rps := fset.Float64("rps", 0, "requests per second the key may make (0: no limit)")
	maxPriority := fset.Int("max-priority", 0, "best priority the key may ask for, 1 (the best) to 5 (default: any)")
	path := fset.String("file", "", "keys file to add the key to, created (mode 0600) if missing")
	fset.Usage = func() {
		fmt.Fprintf(stderr, "%s\nFlags:\n", strings.SplitN(keysUsage, "\n", 2)[0])
		fset.PrintDefaults()
	}
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	usageError := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "docket-api keys new: "+format+"\n", a...)
		return exitUsage
	}
	if fset.NArg() > 0 {
		return usageError("unexpected argument %q (flags only)", fset.Arg(0))
	}

	key := Key{Tenant: *tenant, ID: *id, MaxOpenJobs: *maxOpenJobs, RequestsPerSecond: *rps}
	for s := range strings.SplitSeq(*scopes, ",") {
		if s = strings.TrimSpace(s); s != "" {
			key.Scopes = append(key.Scopes, Scope(s))
		}
	}
	fset.Visit(func(f *flag.Flag) {
		if f.Name == "max-priority" {
			key.MaxPriority = maxPriority
		}
	})
	if *expires != "" {
		at, err := parseExpiry(*expires, now)
		if err != nil {
			return usageError("--expires: %v", err)
		}
		key.ExpiresAt = at
	}
	if key.ID == "" {
		suffix, err := randomHex(3)
		if err != nil {
			fmt.Fprintf(stderr, "docket-api keys new: %v\n", err)
			return exitError
		}
		base := key.Tenant
		if base == "" {
			base = string(ScopeAdmin)
		}
		key.ID = base + "-" + suffix
	}
	secret, err := NewSecret()
	if err != nil {
		fmt.Fprintf(stderr, "docket-api keys new: %v\n", err)
		return exitError
	}
	key.SHA256 = HashSecret(secret)
	if field, err := key.check(); err != nil {
		return usageError("%s: %v", flagOf[field], err)
	}

	if *path != "" {
		if code := addToFile(*path, key, stderr); code != exitOK {
			return code
		}
	}
	entry, err := jsonv2.Marshal(key, jsontext.WithIndent("  "))
	if err != nil {
		fmt.Fprintf(stderr, "docket-api keys new: encode the entry: %v\n", err)
		return exitError
	}
	// The notes go to stderr so that stdout is exactly the secret's line
	// and the entry, for scripts.
	fmt.Fprintf(stderr, "The secret of key %q, shown only this once: it cannot be shown again, the keys file keeps only its SHA-256.\n", key.ID)
	fmt.Fprintln(stdout, secret)
	if *path != "" {
		fmt.Fprintf(stderr, "Added this entry to %s; a running docket-api picks it up within seconds:\n", *path)
	} else {
		fmt.Fprintln(stderr, `Add this entry to the "keys" list of the keys file (DOCKET_API_KEYS_FILE):`)
	}
	fmt.Fprintf(stdout, "%s\n", entry)
	return exitOK
}

// parseExpiry reads --expires: an RFC 3339 time or a duration from now.
// The result is in UTC and whole seconds, as an operator would write it.
func parseExpiry(s string, now time.Time) (time.Time, error) {
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		d, derr := time.ParseDuration(s)
		if derr != nil {
			return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time (2027-06-01T00:00:00Z) nor a duration (720h)", s)
		}
		at = now.Add(d)
	}
	at = at.UTC().Truncate(time.Second)
	if !at.After(now) {
		return time.Time{}, fmt.Errorf("%s is not in the future", at.Format(time.RFC3339))
	}
	return at, nil
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random bytes for the key id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// addToFile appends key to the keys file at path, creating it if missing.
// The result is checked with Parse before it is written, so the command
// never leaves a file the API would refuse.
func addToFile(path string, key Key, stderr io.Writer) int {
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "docket-api keys new: "+format+"\n", a...)
		return code
	}
	// A symlinked keys file (a config map's) is updated where it points,
	// so that the link survives.
	target := path
	perm := fs.FileMode(0o600)
	var keys []Key
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fail(exitError, "%v", err)
	default:
		if keys, err = Parse(data); err != nil {
			return fail(exitUsage, "%s: %v", path, err)
		}
		if target, err = filepath.EvalSymlinks(path); err != nil {
			return fail(exitError, "%v", err)
		}
		info, err := os.Stat(target)
		if err != nil {
			return fail(exitError, "%v", err)
		}
		perm = info.Mode().Perm()
	}
	keys = append(keys, key)
	out, err := jsonv2.Marshal(file{Keys: &keys}, jsontext.WithIndent("  "))
	if err != nil {
		return fail(exitError, "encode %s: %v", path, err)
	}
	out = append(out, '\n')
	if _, err := Parse(out); err != nil {
		return fail(exitUsage, "%s with the new key: %v", path, err)
	}
	if err := writeFileAtomic(target, out, perm); err != nil {
		return fail(exitError, "%v", err)
	}
	return exitOK
}

// writeFileAtomic replaces path with data by renaming a temporary file of
// the same directory over it, so that a Keyring reloading it meanwhile
// reads either the old version or the new one, never half of one.
func writeFileAtomic(path string, data []byte, perm fs.FileMode) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// Synced before the rename, so that a crash cannot leave the new name
	// on an empty file.
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
