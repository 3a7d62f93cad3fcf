package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// ReloadInterval is how often a Keyring looks at its file for changes. It
// is read when Open starts the poller; tests shorten it before calling Open.
var ReloadInterval = time.Second

// Keyring holds the keys of a keys file and keeps them current: it polls
// the file's stat and reloads it when it changes.
//
// Polling rather than fsnotify: editors and Kubernetes config-map mounts
// replace the file by renaming another one over it (a config map swaps a
// symlink to a new directory), so a watch on the file itself goes quiet
// after the first save and a watch on the directory has to follow renames
// and symlinks. A stat of the path, compared by inode and device as well as
// mtime, size and mode, sees an in-place write, a rename over the file and
// a symlink swap alike, costs one syscall a second and needs no dependency.
// The price is up to ReloadInterval of delay, and a change that keeps the
// inode, size and mtime (possible only where mtimes are coarse) goes unseen
// until the next one.
type Keyring struct {
	path string
	log  *slog.Logger
	keys atomic.Pointer[[]*entry]

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// entry is a Key ready for Authenticate.
type entry struct {
	key  Key
	hash []byte
	// limiter enforces key.RequestsPerSecond; nil when there is none. It
	// is carried over from the previous version of the file for as long as
	// the key's id and rate stay the same, so that a reload (of any key)
	// does not refill everyone's bucket.
	limiter *rate.Limiter
}

// Open loads the keys file at path and starts watching it; log receives
// the reloads and the failed ones (nil: slog.Default()). A missing or
// invalid file is an error. Close stops the watching.
func Open(path string, log *slog.Logger) (*Keyring, error) {
	if log == nil {
		log = slog.Default()
	}
	keys, info, err := readKeys(path)
	if err != nil {
		return nil, err
	}
	k := &Keyring{path: path, log: log, stop: make(chan struct{}), done: make(chan struct{})}
	k.install(keys)
	log.Info("api keys loaded", "path", path, "keys", len(keys))
	go k.poll(ReloadInterval, info)
	return k, nil
}

// Close stops reloading the file. The keys last loaded stay in use.
func (k *Keyring) Close() {
	k.closeOnce.Do(func() { close(k.stop) })
	<-k.done
}

// readKeys reads and parses the file. The stat comes from the open file,
// before the read, so that a change that lands after it differs from the
// recorded stat and is picked up by the next poll.
func readKeys(path string) ([]Key, os.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("open api keys file: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("stat api keys file %s: %w", path, err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, info, fmt.Errorf("read api keys file %s: %w", path, err)
	}
	keys, err := Parse(data)
	if err != nil {
		return nil, info, fmt.Errorf("api keys file %s: %w", path, err)
	}
	return keys, info, nil
}

// install makes keys the ones Authenticate checks.
func (k *Keyring) install(keys []Key) {
	var previous map[string]*entry
	if old := k.keys.Load(); old != nil {
		previous = make(map[string]*entry, len(*old))
		for _, e := range *old {
			previous[e.key.ID] = e
		}
	}
	entries := make([]*entry, len(keys))
	for i, key := range keys {
		// Parse checked the hash is 64 hex digits.
		hash, _ := hex.DecodeString(key.SHA256)
		e := &entry{key: key, hash: hash}
		if rps := key.RequestsPerSecond; rps > 0 {
			if p := previous[key.ID]; p != nil && p.limiter != nil && p.key.RequestsPerSecond == rps {
				e.limiter = p.limiter
			} else {
				e.limiter = rate.NewLimiter(rate.Limit(rps), int(math.Max(1, math.Ceil(rps))))
			}
		}
		entries[i] = e
	}
	k.keys.Store(&entries)
}

// poll reloads the file whenever its stat changes. A failed reload keeps
// the keys in use: a half-written or mistyped file must not lock every
// client out (or let anyone in). Each failure is logged once, not on every
// tick, by recording the stat of the version that failed.
func (k *Keyring) poll(interval time.Duration, last os.FileInfo) {
	defer close(k.done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-k.stop:
			return
		case <-tick.C:
		}
		info, err := os.Stat(k.path)
		if err != nil {
			if last != nil {
				k.log.Error("api keys file unreadable; keeping the previous keys", "path", k.path, "error", err)
				last = nil
			}
			continue
		}
		if last != nil && sameVersion(last, info) {
			continue
		}
		keys, read, err := readKeys(k.path)
		last = info
		if read != nil {
			last = read
		}
		if err != nil {
			// Parse's errors name the key and field, never a hash.
			k.log.Error("api keys file invalid; keeping the previous keys", "path", k.path, "error", err)
			continue
		}
		k.install(keys)
		k.log.Info("api keys reloaded", "path", k.path, "keys", len(keys))
	}
}

// sameVersion says whether two stats are of the same version of the file.
// os.SameFile compares device and inode, which change when a new file is
// renamed over the path; the mode is compared so that fixing a file's
// permissions retries a read that they made fail.
func sameVersion(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.ModTime().Equal(b.ModTime()) && a.Size() == b.Size() && a.Mode() == b.Mode()
}

// Reason says why a request was not authenticated.
type Reason string

// The reasons Authenticate gives.
const (
	// ReasonMissing: the request has no Authorization header.
	ReasonMissing Reason = "missing"
	// ReasonMalformed: the header is not "Bearer <key>".
	ReasonMalformed Reason = "malformed"
	// ReasonUnknown: no key of the file has the presented secret (it was
	// never issued, or it was revoked).
	ReasonUnknown Reason = "unknown"
	// ReasonExpired: the key's expires_at has passed.
	ReasonExpired Reason = "expired"
)

// Error is why Authenticate refused a request. Message suits the detail
// of a 401 problem+json: it says what to do, and never repeats the secret.
type Error struct {
	// Reason classifies the failure, for metrics and logs.
	Reason Reason
	// Message is for the client.
	Message string
	// KeyID names the key when there is one (an expired key), for logs.
	KeyID string
}

func (e *Error) Error() string { return e.Message }

// The messages of Authenticate's errors.
const (
	msgMissing   = "this API requires an API key: send Authorization: Bearer <key>"
	msgMalformed = "the Authorization header is not a bearer token: send Authorization: Bearer <key>"
	msgUnknown   = "the key is unknown or revoked: check it, or ask the operator for a new one"
)

// Authenticate returns the principal of the key in authorization, the raw
// value of a request's Authorization header, which must be "Bearer
// <secret>" (the scheme in any case). now decides whether the key expired.
// Failures are *Error.
//
// The presented secret's SHA-256 is compared with every key's, each in
// constant time and with no early exit, so that the response time does not
// say which stored hash, or how much of one, a guess came close to.
func (k *Keyring) Authenticate(authorization string, now time.Time) (*Principal, error) {
	fields := strings.Fields(authorization)
	if len(fields) == 0 {
		return nil, &Error{Reason: ReasonMissing, Message: msgMissing}
	}
	if len(fields) != 2 || !strings.EqualFold(fields[0], "Bearer") {
		return nil, &Error{Reason: ReasonMalformed, Message: msgMalformed}
	}
	sum := sha256.Sum256([]byte(fields[1]))
	entries := *k.keys.Load()
	match := -1
	for i, e := range entries {
		match = subtle.ConstantTimeSelect(subtle.ConstantTimeCompare(sum[:], e.hash), i, match)
	}
	if match < 0 {
		return nil, &Error{Reason: ReasonUnknown, Message: msgUnknown}
	}
	e := entries[match]
	if exp := e.key.ExpiresAt; !exp.IsZero() && !now.Before(exp) {
		return nil, &Error{
			Reason:  ReasonExpired,
			Message: fmt.Sprintf("the key expired at %s: ask the operator for a new one", exp.UTC().Format(time.RFC3339)),
			KeyID:   e.key.ID,
		}
	}
	return e.principal(), nil
}

func (e *entry) principal() *Principal {
	p := &Principal{
		KeyID:       e.key.ID,
		Tenant:      e.key.Tenant,
		Scopes:      slices.Clone(e.key.Scopes),
		MaxOpenJobs: e.key.MaxOpenJobs,
		MaxPriority: bestPriority,
		limiter:     e.limiter,
	}
	if e.key.MaxPriority != nil {
		p.MaxPriority = *e.key.MaxPriority
	}
	return p
}

// Principal is who a request acts as: the key it authenticated with.
type Principal struct {
	// KeyID is the key's id, for logs.
	KeyID string
	// Tenant is whose jobs and documents the key reaches; an admin key's
	// may be empty, and an admin reaches every tenant anyway.
	Tenant string
	// Scopes are what the key may do; see Has.
	Scopes []Scope
	// MaxOpenJobs caps the tenant's jobs that have not ended (0: no cap).
	MaxOpenJobs int
	// MaxPriority is the best priority the key may ask for, 1..5 (1, the
	// best and so any priority, when the file leaves it out).
	MaxPriority int

	limiter *rate.Limiter
}

// Has says whether the key grants scope; admin grants every scope.
func (p *Principal) Has(scope Scope) bool {
	return p.Admin() || slices.Contains(p.Scopes, scope)
}

// Admin says whether the key has the admin scope (every tenant, every scope).
func (p *Principal) Admin() bool {
	return slices.Contains(p.Scopes, ScopeAdmin)
}

// Allow takes one request from the key's rate limit (a token bucket of
// requests_per_second, holding at most max(1, ceil(rps)) requests). When
// the bucket is empty it returns false and how long until a request would
// be allowed, rounded up to whole seconds (at least 1 s) for a Retry-After
// header. A key without a limit is always allowed.
func (p *Principal) Allow(now time.Time) (ok bool, retryAfter time.Duration) {
	if p.limiter == nil {
		return true, 0
	}
	if p.limiter.AllowN(now, 1) {
		return true, 0
	}
	// A denied request takes no token, so the wait is the time to refill
	// the missing part of one. Concurrent requests may make it stale by a
	// fraction of a second, which the rounding up absorbs.
	missing := 1 - p.limiter.TokensAt(now)
	seconds := math.Ceil(missing / float64(p.limiter.Limit()))
	return false, time.Duration(max(1, seconds)) * time.Second
}
