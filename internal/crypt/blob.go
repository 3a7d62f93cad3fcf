package crypt

import (
	"bytes"
	"crypto/rand"
	"fmt"
)

// The sealed-object envelope, version 1. All of it is in one buffer,
// because objects are at most tens of MiB and their callers hold them in
// memory anyway:
//
//	offset  size    field
//	0       5       magic "DKTE1" ("DKTE" and the format's version digit)
//	5       1       n, the length of the key id (1 to 64)
//	6       n       id of the ring key that wrapped the data key
//	6+n     60      wrapped data key: nonce (12) | AES-256-GCM of the 32-byte
//	                data key under the ring key (32) | tag (16); additional
//	                data: bytes 0 to 6+n (magic, n, id)
//	66+n    12      nonce of the body
//	78+n    len-16  body: AES-256-GCM of the object under the data key;
//	                additional data: bytes 0 to 66+n (the whole header)
//	end-16  16      tag of the body
//
// A fresh data key per object keeps every ring key far below the 2^32
// messages that random GCM nonces allow (it seals one 32-byte key per
// object however large the object is), and binding the header as
// additional data means no byte of it, key id included, can change without
// Open failing.
const (
	envelopeMagicPrefix = "DKTE"
	envelopeVersion     = '1'
	envelopeMagic       = envelopeMagicPrefix + string(envelopeVersion)
	gcmOverhead         = 12 + 16 // nonce and tag, as newAEAD's Seal adds them
	wrappedKeySize      = KeySize + gcmOverhead
)

// Seal encrypts plaintext for storage (an uploaded document, a page's text,
// an entity list): a fresh random 256-bit data key encrypts it with
// AES-256-GCM, the ring's active key wraps the data key, and a versioned
// header carrying the key id and the wrapped key precedes the ciphertext
// (see the envelope's layout above). The result is 94 bytes plus the key
// id longer than plaintext.
func (r *Ring) Seal(plaintext []byte) ([]byte, error) {
	id := r.active
	header := make([]byte, 0, len(envelopeMagic)+1+len(id)+wrappedKeySize)
	header = append(header, envelopeMagic...)
	header = append(header, byte(len(id)))
	header = append(header, id...)

	dataKey := make([]byte, KeySize)
	defer clear(dataKey)
	if _, err := rand.Read(dataKey); err != nil {
		return nil, fmt.Errorf("seal object: read random bytes for the data key: %w", err)
	}
	body, err := newAEAD(dataKey)
	if err != nil {
		return nil, fmt.Errorf("seal object: %w", err)
	}
	header = r.aeads[id].Seal(header, nil, dataKey, header)

	out := make([]byte, len(header), len(header)+len(plaintext)+gcmOverhead)
	copy(out, header)
	return body.Seal(out, nil, plaintext, header), nil
}

// Open reverses Seal. Bytes that do not begin with the envelope's magic are
// returned as they are with encrypted false, so that objects stored before
// encryption was turned on stay readable; anything that begins with "DKTE"
// and a digit is taken for an envelope, and failing to open it is an
// error, never a passthrough of ciphertext. Errors wrap ErrKeyNotFound
// (naming the key id) when the ring lacks the key and ErrAuthentication
// when the envelope was altered or truncated.
func (r *Ring) Open(sealed []byte) (plaintext []byte, encrypted bool, err error) {
	if !isEnvelope(sealed) {
		return sealed, false, nil
	}
	if sealed[len(envelopeMagicPrefix)] != envelopeVersion {
		return nil, true, fmt.Errorf("open sealed object: envelope version %q is not one this build reads (it reads %q)", sealed[:len(envelopeMagic)], envelopeMagic)
	}
	rest := sealed[len(envelopeMagic):]
	if len(rest) < 1 {
		return nil, true, fmt.Errorf("open sealed object: %w: the envelope is truncated (%d bytes)", ErrAuthentication, len(sealed))
	}
	n := int(rest[0])
	if len(rest) < 1+n+wrappedKeySize+gcmOverhead {
		return nil, true, fmt.Errorf("open sealed object: %w: the envelope is truncated (%d bytes)", ErrAuthentication, len(sealed))
	}
	id := string(rest[1 : 1+n])
	prefixEnd := len(envelopeMagic) + 1 + n
	headerEnd := prefixEnd + wrappedKeySize
	wrapper, err := r.aead(id)
	if err != nil {
		return nil, true, fmt.Errorf("open sealed object: %w", err)
	}
	dataKey, err := wrapper.Open(nil, nil, sealed[prefixEnd:headerEnd], sealed[:prefixEnd])
	if err != nil {
		return nil, true, fmt.Errorf("open sealed object under key %q: unwrap its data key: %w: it was altered, or sealed by another key of that id", id, ErrAuthentication)
	}
	defer clear(dataKey)
	body, err := newAEAD(dataKey)
	if err != nil {
		return nil, true, fmt.Errorf("open sealed object: %w", err)
	}
	// Opened into a buffer of the exact size, never nil, so that an empty
	// object opens to an empty slice as it was sealed.
	dst := make([]byte, 0, len(sealed)-headerEnd-gcmOverhead)
	plaintext, err = body.Open(dst, nil, sealed[headerEnd:], sealed[:headerEnd])
	if err != nil {
		return nil, true, fmt.Errorf("open sealed object under key %q: %w: it was altered or truncated", id, ErrAuthentication)
	}
	return plaintext, true, nil
}

// IsSealed reports whether data is (or claims to be) an envelope of Seal,
// without opening it: for callers that count or migrate plain objects.
func IsSealed(data []byte) bool { return isEnvelope(data) }

// isEnvelope is the magic's prefix and a version digit.
func isEnvelope(data []byte) bool {
	return len(data) > len(envelopeMagicPrefix) &&
		bytes.HasPrefix(data, []byte(envelopeMagicPrefix)) &&
		data[len(envelopeMagicPrefix)] >= '0' && data[len(envelopeMagicPrefix)] <= '9'
}
