// Package crypt is Docket's encryption at rest. A Ring holds the AES-256
// keys of a key-ring file (DOCKET_ENCRYPTION_KEYS_FILE): the first key
// encrypts, every key decrypts, so that a new key is rotated in by putting
// it first while what older keys encrypted stays readable. The ring
// encrypts two kinds of data with AES-256-GCM:
//
//   - Temporal payloads (Codec, DataConverter, FailureConverter,
//     CodecHandler), so that job inputs, results and failure messages reach
//     the Temporal service, its database and its Web UI only as ciphertext;
//   - objects in the blob store (Seal, Open): uploaded documents, page
//     texts, entity lists.
//
// Keys in the file are either plain ("key") or wrapped by a KMS ("wrapped",
// unwrapped at load through a gocloud.dev/secrets keeper), so that the file
// alone need not be enough to read anything. Key material is never logged,
// printed or put in an error.
package crypt

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"gocloud.dev/secrets"

	"github.com/docket-dev/docket/job"

	// The local keeper (base64key://), for development and tests. Cloud
	// KMS drivers (gocloud.dev/secrets/awskms, gcpkms, azurekeyvault,
	// hashivault) are imported by the binaries that need them, so that
	// every importer of this package does not carry every cloud's SDK.
	_ "gocloud.dev/secrets/localsecrets"
)

// KeySize is the size in bytes of every key of a ring: AES-256.
const KeySize = 32

// maxKeyIDLen bounds a key id: it is stored in every payload's metadata and
// every sealed object's header (one length byte), and appears in errors.
const maxKeyIDLen = 64

// ErrKeyNotFound is wrapped by the errors of decrypting something whose key
// id is not in the ring (a key retired too early, or another ring's data).
var ErrKeyNotFound = errors.New("encryption key is not in the key ring")

// ErrAuthentication is wrapped by the errors of decrypting something whose
// GCM authentication failed: it was altered, truncated or re-labelled, or it
// was encrypted by a different key that carries the same id.
var ErrAuthentication = errors.New("message authentication failed")

// Ring is a loaded key ring. It is immutable and safe for concurrent use;
// a changed file takes effect when the process loads it again (a restart).
// Make one with LoadRing or ParseRing: the zero Ring has no key to use.
type Ring struct {
	active string
	ids    []string // in the file's order; ids[0] == active
	aeads  map[string]cipher.AEAD
}

// ringFile is the key-ring file's JSON.
type ringFile struct {
	Keys []fileKey `json:"keys"`
}

// fileKey is one entry of the key-ring file: exactly one of Key (base64 of
// the 32 key bytes) and Wrapped (base64 of the key as a KMS encrypted it).
type fileKey struct {
	ID      string `json:"id"`
	Key     string `json:"key,omitempty"`
	Wrapped string `json:"wrapped,omitempty"`
}

// LoadRing reads the key-ring file at path. kmsURL, when not empty, is the
// gocloud.dev/secrets URL of the keeper that unwraps the file's "wrapped"
// keys (DOCKET_ENCRYPTION_KMS_URL: base64key://... locally, awskms://...,
// gcpkms://... or azurekeyvault://... in production, whose drivers the
// binary must import); a file with wrapped keys and no kmsURL is an error.
func LoadRing(ctx context.Context, path, kmsURL string) (*Ring, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load key ring: %w", err)
	}
	var keeper *secrets.Keeper
	if kmsURL != "" {
		if keeper, err = openKeeper(ctx, kmsURL); err != nil {
			return nil, fmt.Errorf("load key ring %s: %w", path, err)
		}
		defer keeper.Close()
	}
	r, err := ParseRing(ctx, data, keeper)
	if err != nil {
		return nil, fmt.Errorf("load key ring %s: %w", path, err)
	}
	return r, nil
}

// ParseRing reads a key-ring file's contents. keeper unwraps the entries
// that hold a "wrapped" key; it may be nil when none does.
func ParseRing(ctx context.Context, data []byte, keeper *secrets.Keeper) (*Ring, error) {
	f, err := decodeRingFile(data)
	if err != nil {
		return nil, err
	}
	r := &Ring{aeads: make(map[string]cipher.AEAD, len(f.Keys))}
	for i, k := range f.Keys {
		var key []byte
		if k.Wrapped != "" {
			if keeper == nil {
				return nil, fmt.Errorf("keys[%d] (%q) is wrapped by a KMS, but no KMS URL (DOCKET_ENCRYPTION_KMS_URL) was given to unwrap it", i, k.ID)
			}
			wrapped, _ := base64.StdEncoding.DecodeString(k.Wrapped) // checked by decodeRingFile
			if key, err = keeper.Decrypt(ctx, wrapped); err != nil {
				return nil, fmt.Errorf("keys[%d] (%q): unwrap with the KMS: %w", i, k.ID, err)
			}
			if len(key) != KeySize {
				return nil, fmt.Errorf("keys[%d] (%q): the KMS unwrapped %d bytes, want %d", i, k.ID, len(key), KeySize)
			}
		} else {
			key, _ = base64.StdEncoding.DecodeString(k.Key) // checked by decodeRingFile
		}
		aead, err := newAEAD(key)
		if err != nil {
			return nil, fmt.Errorf("keys[%d] (%q): %w", i, k.ID, err)
		}
		r.aeads[k.ID] = aead
		r.ids = append(r.ids, k.ID)
	}
	r.active = r.ids[0]
	return r, nil
}

// ringError is what is wrong with a key-ring file's contents, as opposed
// to failing to read it or to reach its KMS: the keyring command answers
// it as a usage error.
type ringError struct{ err error }

func (e *ringError) Error() string { return e.err.Error() }
func (e *ringError) Unwrap() error { return e.err }

// decodeRingFile decodes and checks a key-ring file without unwrapping its
// keys, so that the keyring command can edit a file whose KMS it cannot
// reach. Errors are *ringError and name entries by index and id, never by
// their key.
func decodeRingFile(data []byte) (ringFile, error) {
	f, err := checkRingFile(data)
	if err != nil {
		return ringFile{}, &ringError{err}
	}
	return f, nil
}

func checkRingFile(data []byte) (ringFile, error) {
	var f ringFile
	if err := job.DecodeStrict(data, &f); err != nil {
		return ringFile{}, fmt.Errorf("decode the key ring: %w", err)
	}
	if len(f.Keys) == 0 {
		return ringFile{}, errors.New(`the key ring has no keys: "keys" must list at least one`)
	}
	seen := make(map[string]bool, len(f.Keys))
	for i, k := range f.Keys {
		if err := checkKeyID(k.ID); err != nil {
			return ringFile{}, fmt.Errorf("keys[%d]: id: %w", i, err)
		}
		if seen[k.ID] {
			return ringFile{}, fmt.Errorf("keys[%d]: id %q is also the id of an earlier key: ids must be unique", i, k.ID)
		}
		seen[k.ID] = true
		switch {
		case k.Key != "" && k.Wrapped != "":
			return ringFile{}, fmt.Errorf(`keys[%d] (%q): has both "key" and "wrapped": give one`, i, k.ID)
		case k.Key != "":
			// base64's errors give an offset, never the input, so they
			// are safe to pass on.
			key, err := base64.StdEncoding.DecodeString(k.Key)
			if err != nil {
				return ringFile{}, fmt.Errorf("keys[%d] (%q): key is not standard base64: %w", i, k.ID, err)
			}
			if len(key) != KeySize {
				return ringFile{}, fmt.Errorf("keys[%d] (%q): key is %d bytes, want %d (AES-256)", i, k.ID, len(key), KeySize)
			}
		case k.Wrapped != "":
			if _, err := base64.StdEncoding.DecodeString(k.Wrapped); err != nil {
				return ringFile{}, fmt.Errorf("keys[%d] (%q): wrapped is not standard base64: %w", i, k.ID, err)
			}
		default:
			return ringFile{}, fmt.Errorf(`keys[%d] (%q): has neither "key" nor "wrapped"`, i, k.ID)
		}
	}
	return f, nil
}

// checkKeyID keeps ids short and of a plain alphabet: they go into payload
// metadata, a one-byte-length field of sealed objects, and error messages.
func checkKeyID(id string) error {
	if id == "" {
		return errors.New("is empty")
	}
	if len(id) > maxKeyIDLen {
		return fmt.Errorf("is %d bytes, at most %d", len(id), maxKeyIDLen)
	}
	for _, c := range []byte(id) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return fmt.Errorf("%q has a character other than A-Z, a-z, 0-9, '.', '_' and '-'", id)
		}
	}
	return nil
}

// newAEAD makes AES-256-GCM with a random 96-bit nonce per message, which
// Seal prepends to the ciphertext and Open takes from it: the standard
// library's own nonce handling rather than one of ours. A key must not seal
// more than 2^32 messages (random nonces could then collide); rotating the
// key well before that is the operator's part.
func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("make the AES cipher: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("make AES-GCM: %w", err)
	}
	return aead, nil
}

// Active is the id of the key that encrypts: the file's first.
func (r *Ring) Active() string { return r.active }

// KeyIDs lists the ids of every key of the ring, the active one first, for
// logs and diagnostics (ids are not secret).
func (r *Ring) KeyIDs() []string { return append([]string(nil), r.ids...) }

// String describes the ring by its key ids, so that a ring printed or
// logged by mistake shows no key material.
func (r *Ring) String() string {
	return fmt.Sprintf("crypt.Ring{active: %s, keys: %s}", r.active, strings.Join(r.ids, ","))
}

// GoString is String, for %#v.
func (r *Ring) GoString() string { return r.String() }

// aead returns the cipher of key id, or an error wrapping ErrKeyNotFound
// that names the id and the ring's ids.
func (r *Ring) aead(id string) (cipher.AEAD, error) {
	a, ok := r.aeads[id]
	if !ok {
		return nil, fmt.Errorf("key %q: %w (it has %s)", id, ErrKeyNotFound, strings.Join(r.ids, ", "))
	}
	return a, nil
}

// openKeeper opens the keeper of kmsURL. The URL of the local keeper holds
// its key, and gocloud's URL errors quote the whole URL, so errors here
// name the scheme and never the URL.
func openKeeper(ctx context.Context, kmsURL string) (*secrets.Keeper, error) {
	u, err := url.Parse(kmsURL)
	if err != nil || u.Scheme == "" {
		return nil, errors.New("the KMS URL is not a URL with a scheme (such as base64key:// or awskms://)")
	}
	if !secrets.DefaultURLMux().ValidKeeperScheme(u.Scheme) {
		return nil, fmt.Errorf("the KMS URL's scheme %q has no driver in this binary (it has %s)",
			u.Scheme, strings.Join(secrets.DefaultURLMux().KeeperSchemes(), ", "))
	}
	k, err := secrets.OpenKeeper(ctx, kmsURL)
	if err != nil {
		msg := strings.ReplaceAll(err.Error(), kmsURL, u.Scheme+"://...")
		if u.Host != "" {
			msg = strings.ReplaceAll(msg, u.Host, "...")
		}
		return nil, fmt.Errorf("open the %s keeper: %s", u.Scheme, msg)
	}
	return k, nil
}
