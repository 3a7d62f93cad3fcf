package crypt

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"gocloud.dev/secrets"
)

// GenerateRingFile writes a new key ring with one random key to path, mode
// 0600, creating its directory (0700) if missing, and reports whether it did.
// A file already at path is left as it is (created false, no error), so
// that `make run` can call it on every start and only the first makes keys:
// a new key ring over an old one would make everything encrypted so far
// unreadable.
func GenerateRingFile(path string) (created bool, err error) {
	created, _, err = generateRingFile(context.Background(), path, nil)
	return created, err
}

// generateRingFile is GenerateRingFile with the new key wrapped by keeper
// when keeper is not nil; it also returns the new key's id.
func generateRingFile(ctx context.Context, path string, keeper *secrets.Keeper) (created bool, id string, err error) {
	if _, err := os.Lstat(path); err == nil {
		return false, "", nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, "", fmt.Errorf("create key ring: %w", err)
	}
	entry, err := newEntry(ctx, keeper, nil)
	if err != nil {
		return false, "", fmt.Errorf("create key ring %s: %w", path, err)
	}
	data, err := encodeRingFile(ringFile{Keys: []fileKey{entry}})
	if err != nil {
		return false, "", fmt.Errorf("create key ring %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return false, "", fmt.Errorf("create key ring: %w", err)
	}
	tmp, err := writeTemp(path, data, 0o600)
	if err != nil {
		return false, "", fmt.Errorf("create key ring: %w", err)
	}
	defer os.Remove(tmp)
	// A hard link to the finished file creates path only if nothing is
	// there, atomically: two first runs at once cannot both write a ring,
	// and a crash cannot leave a half-written one at path.
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, "", nil
		}
		return false, "", fmt.Errorf("create key ring: %w", err)
	}
	return true, entry.ID, nil
}

// addKey adds a new random key LAST to the key ring at path, where it
// only decrypts, and returns its id: every process must load it before any
// process encrypts with it, or a worker that has not yet restarted fails
// the jobs it cannot read (a workflow whose input does not decode fails
// for good). activateKey then makes it the key that encrypts. keeper wraps
// the new key; it must be given when the ring already holds wrapped keys,
// so that rotation does not leave a plain key in a file that was meant to
// be useless without the KMS.
func addKey(ctx context.Context, path string, keeper *secrets.Keeper) (string, error) {
	f, err := readRingFile(path)
	if err != nil {
		return "", fmt.Errorf("add a key: %w", err)
	}
	ids := make([]string, len(f.Keys))
	for i, k := range f.Keys {
		ids[i] = k.ID
		if k.Wrapped != "" && keeper == nil {
			return "", &ringError{fmt.Errorf("add a key to %s: its key %q is wrapped by a KMS: give the KMS URL so that the new key is wrapped too", path, k.ID)}
		}
	}
	entry, err := newEntry(ctx, keeper, ids)
	if err != nil {
		return "", fmt.Errorf("add a key to %s: %w", path, err)
	}
	f.Keys = append(f.Keys, entry)
	if err := rewriteRingFile(path, f); err != nil {
		return "", fmt.Errorf("add a key: %w", err)
	}
	return entry.ID, nil
}

// activateKey moves the key id first in the ring at path, so that it
// encrypts from each process's next start; the others still decrypt.
func activateKey(path, id string) error {
	f, err := readRingFile(path)
	if err != nil {
		return fmt.Errorf("activate a key: %w", err)
	}
	i := slices.IndexFunc(f.Keys, func(k fileKey) bool { return k.ID == id })
	if i < 0 {
		return &ringError{fmt.Errorf("activate a key: %s has no key %q", path, id)}
	}
	k := f.Keys[i]
	f.Keys = slices.Insert(slices.Delete(f.Keys, i, i+1), 0, k)
	if err := rewriteRingFile(path, f); err != nil {
		return fmt.Errorf("activate a key: %w", err)
	}
	return nil
}

func readRingFile(path string) (ringFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return ringFile{}, err
	}
	f, err := decodeRingFile(data)
	if err != nil {
		return ringFile{}, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// rewriteRingFile replaces the ring at path with f. A symlinked file (a
// mounted secret's) is replaced where it points, keeping its mode, so that
// the link and its permissions survive; the rename replaces the file
// whole, so a process loading the ring meanwhile reads the old ring or the
// new one, never half of one.
func rewriteRingFile(path string, f ringFile) error {
	out, err := encodeRingFile(f)
	if err != nil {
		return err
	}
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		return err
	}
	info, err := os.Stat(target)
	if err != nil {
		return err
	}
	tmp, err := writeTemp(target, out, info.Mode().Perm())
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, target); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// newEntry makes a random key with an id unlike those of taken, wrapped by
// keeper if it is not nil.
func newEntry(ctx context.Context, keeper *secrets.Keeper, taken []string) (fileKey, error) {
	var id string
	for {
		suffix := make([]byte, 3)
		if _, err := rand.Read(suffix); err != nil {
			return fileKey{}, fmt.Errorf("read random bytes for the key id: %w", err)
		}
		// The date tells an operator how old a key is; the random part
		// keeps two keys made the same day apart.
		id = "k-" + time.Now().UTC().Format("20060102") + "-" + hex.EncodeToString(suffix)
		if !slices.Contains(taken, id) {
			break
		}
	}
	key := make([]byte, KeySize)
	defer clear(key)
	if _, err := rand.Read(key); err != nil {
		return fileKey{}, fmt.Errorf("read random bytes for the key: %w", err)
	}
	if keeper == nil {
		return fileKey{ID: id, Key: base64.StdEncoding.EncodeToString(key)}, nil
	}
	wrapped, err := keeper.Encrypt(ctx, key)
	if err != nil {
		return fileKey{}, fmt.Errorf("wrap the new key with the KMS: %w", err)
	}
	return fileKey{ID: id, Wrapped: base64.StdEncoding.EncodeToString(wrapped)}, nil
}

// encodeRingFile writes f as the file's JSON, checked by decodeRingFile so
// that no command writes a file LoadRing would refuse.
func encodeRingFile(f ringFile) ([]byte, error) {
	out, err := jsonv2.Marshal(f, jsontext.WithIndent("  "))
	if err != nil {
		return nil, fmt.Errorf("encode the key ring: %w", err)
	}
	out = append(out, '\n')
	if _, err := decodeRingFile(out); err != nil {
		return nil, fmt.Errorf("the new key ring: %w", err)
	}
	return out, nil
}

// writeTemp writes data to a new temporary file beside path, synced so that
// a crash after it is renamed or linked into place cannot leave an empty
// file there, and returns its name.
func writeTemp(path string, data []byte, perm fs.FileMode) (name string, err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(perm); err != nil {
		return "", err
	}
	if _, err := tmp.Write(data); err != nil {
		return "", err
	}
	if err := tmp.Sync(); err != nil {
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	return tmp.Name(), nil
}

// RandomRing is a key ring of one random key called id, held only in
// memory: for tests and tools that need a ring nothing else must read.
func RandomRing(id string) (*Ring, error) {
	key := make([]byte, KeySize)
	defer clear(key)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("read random bytes for the key: %w", err)
	}
	data, err := jsonv2.Marshal(map[string]any{"keys": []map[string]string{{"id": id, "key": base64.StdEncoding.EncodeToString(key)}}})
	if err != nil {
		return nil, err
	}
	return ParseRing(context.Background(), data, nil)
}
