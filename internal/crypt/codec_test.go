package crypt_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"

	"github.com/docket-dev/docket/internal/crypt"
)

// jsonPayload is a payload as the default converter makes one.
func jsonPayload(t *testing.T, v any) *commonpb.Payload {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayload(v)
	require.NoError(t, err)
	return p
}

func TestCodecRoundTrip(t *testing.T) {
	r := newKeySet(t, "k1").ring(t, "k1")
	tests := []struct {
		name    string
		payload *commonpb.Payload
		secret  []byte // what must not show in the encoded payload
	}{
		{"json", jsonPayload(t, map[string]string{"name": "Ada Lovelace", "ssn": "123-45-6789"}), []byte("123-45-6789")},
		{"nil value", jsonPayload(t, nil), []byte("binary/null")},
		{"bytes", jsonPayload(t, []byte("raw document bytes")), []byte("raw document bytes")},
		{"extra metadata", &commonpb.Payload{Metadata: map[string][]byte{"encoding": []byte("json/plain"), "messageType": []byte("docket.Secret")}, Data: []byte(`"x"`)}, []byte("docket.Secret")},
		{"empty", &commonpb.Payload{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []*commonpb.Payload{tt.payload}
			before := proto.Clone(tt.payload)

			enc, err := r.Codec().Encode(in)
			require.NoError(t, err)
			require.Len(t, enc, 1)
			require.Equal(t, map[string][]byte{
				"encoding":          []byte(crypt.EncodingEncrypted),
				"encryption-key-id": []byte("k1"),
			}, enc[0].GetMetadata())
			if tt.secret != nil {
				require.False(t, bytes.Contains(enc[0].GetData(), tt.secret), "plaintext in the ciphertext")
			}
			require.True(t, proto.Equal(before, tt.payload), "Encode changed its input")

			// A random nonce per payload: the same payload twice encrypts
			// differently.
			enc2, err := r.Codec().Encode(in)
			require.NoError(t, err)
			require.NotEqual(t, enc[0].GetData(), enc2[0].GetData())

			encBefore := proto.Clone(enc[0])
			dec, err := r.Codec().Decode(enc)
			require.NoError(t, err)
			require.Len(t, dec, 1)
			require.True(t, proto.Equal(tt.payload, dec[0]), "decoded %v, want %v", dec[0], tt.payload)
			require.True(t, proto.Equal(encBefore, enc[0]), "Decode changed its input")
		})
	}
}

// Histories from before encryption was turned on hold plain payloads: they
// must still decode (to themselves), mixed with encrypted ones.
func TestCodecPassesPlainPayloadsThrough(t *testing.T) {
	r := newKeySet(t, "k1").ring(t, "k1")
	plain := jsonPayload(t, "recorded before encryption")
	zlib, err := converter.NewZlibCodec(converter.ZlibCodecOptions{AlwaysEncode: true}).Encode([]*commonpb.Payload{jsonPayload(t, "other codec")})
	require.NoError(t, err)
	secret := jsonPayload(t, "recorded after")
	enc, err := r.Codec().Encode([]*commonpb.Payload{secret})
	require.NoError(t, err)

	dec, err := r.Codec().Decode([]*commonpb.Payload{plain, enc[0], zlib[0], {}})
	require.NoError(t, err)
	require.Len(t, dec, 4)
	require.Same(t, plain, dec[0])
	require.True(t, proto.Equal(secret, dec[1]))
	require.Same(t, zlib[0], dec[2])
	require.True(t, proto.Equal(&commonpb.Payload{}, dec[3]))
}

// Rotation: what k1 encrypted decodes after k2 became the active key while
// k1 stays in the ring; new payloads are k2's; a ring without k1 fails
// naming k1.
func TestCodecRotation(t *testing.T) {
	ks := newKeySet(t, "k1", "k2")
	before := ks.ring(t, "k1")
	after := ks.ring(t, "k2", "k1")
	retired := ks.ring(t, "k2")
	p := jsonPayload(t, "job input")

	old, err := before.Codec().Encode([]*commonpb.Payload{p})
	require.NoError(t, err)
	require.Equal(t, "k1", string(old[0].GetMetadata()[crypt.MetadataKeyID]))

	dec, err := after.Codec().Decode(old)
	require.NoError(t, err)
	require.True(t, proto.Equal(p, dec[0]))

	fresh, err := after.Codec().Encode([]*commonpb.Payload{p})
	require.NoError(t, err)
	require.Equal(t, "k2", string(fresh[0].GetMetadata()[crypt.MetadataKeyID]))
	dec, err = retired.Codec().Decode(fresh)
	require.NoError(t, err)
	require.True(t, proto.Equal(p, dec[0]))

	_, err = retired.Codec().Decode(old)
	require.ErrorIs(t, err, crypt.ErrKeyNotFound)
	require.EqualError(t, err, `decrypt payload: key "k1": encryption key is not in the key ring (it has k2)`)
	// The old ring cannot read the new key's payloads either.
	_, err = before.Codec().Decode(fresh)
	require.ErrorContains(t, err, `key "k2"`)
}

func TestCodecDecodeErrors(t *testing.T) {
	ks := newKeySet(t, "k1", "k2")
	ks["alias"] = ks["k1"]
	r := ks.ring(t, "k1", "k2", "alias")
	aliased := ks.ring(t, "k1", "alias")
	foreign := newKeySet(t, "k1").ring(t, "k1") // another ring's k1
	p := jsonPayload(t, "secret")
	encode := func(r *crypt.Ring) *commonpb.Payload {
		enc, err := r.Codec().Encode([]*commonpb.Payload{p})
		require.NoError(t, err)
		return enc[0]
	}
	with := func(p *commonpb.Payload, change func(*commonpb.Payload)) *commonpb.Payload {
		c := proto.Clone(p).(*commonpb.Payload)
		change(c)
		return c
	}
	good := encode(r)
	sealed, err := r.Seal([]byte("a document"))
	require.NoError(t, err)
	tests := []struct {
		name    string
		payload *commonpb.Payload
		wantIs  error
		wantErr string
	}{
		{"unknown key", with(good, func(p *commonpb.Payload) { p.Metadata[crypt.MetadataKeyID] = []byte("k9") }),
			crypt.ErrKeyNotFound, `decrypt payload: key "k9": encryption key is not in the key ring (it has k1, k2, alias)`},
		{"flipped ciphertext byte", with(good, func(p *commonpb.Payload) { p.Data[len(p.Data)/2] ^= 1 }),
			crypt.ErrAuthentication, `decrypt payload under key "k1": message authentication failed`},
		{"flipped nonce byte", with(good, func(p *commonpb.Payload) { p.Data[0] ^= 1 }),
			crypt.ErrAuthentication, `under key "k1": message authentication failed`},
		{"flipped tag byte", with(good, func(p *commonpb.Payload) { p.Data[len(p.Data)-1] ^= 1 }),
			crypt.ErrAuthentication, `under key "k1": message authentication failed`},
		// The key id is additional data: moving a payload to another key's
		// label fails even if that key could decrypt it.
		{"relabelled key id", with(good, func(p *commonpb.Payload) { p.Metadata[crypt.MetadataKeyID] = []byte("k2") }),
			crypt.ErrAuthentication, `under key "k2": message authentication failed`},
		// Even when the other label's key is the very same key.
		{"relabelled to an alias of the key", with(encode(aliased), func(p *commonpb.Payload) { p.Metadata[crypt.MetadataKeyID] = []byte("alias") }),
			crypt.ErrAuthentication, `under key "alias": message authentication failed`},
		{"another ring's key of the same id", encode(foreign),
			crypt.ErrAuthentication, `under key "k1": message authentication failed`},
		// Payloads and sealed objects are encrypted under different
		// additional data: a codec server must not unwrap an object's data
		// key for whoever may decode payloads.
		{"a sealed object's wrapped data key", with(good, func(p *commonpb.Payload) { p.Data = sealed[8 : 8+60] }),
			crypt.ErrAuthentication, `under key "k1": message authentication failed`},
		{"truncated", with(good, func(p *commonpb.Payload) { p.Data = p.Data[:10] }),
			crypt.ErrAuthentication, "message authentication failed"},
		{"empty data", with(good, func(p *commonpb.Payload) { p.Data = nil }),
			crypt.ErrAuthentication, "message authentication failed"},
		{"no key id", with(good, func(p *commonpb.Payload) { delete(p.Metadata, crypt.MetadataKeyID) }),
			nil, "its encoding is binary/encrypted but it has no encryption-key-id metadata"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []*commonpb.Payload{jsonPayload(t, "plain first"), tt.payload}
			dec, err := r.Codec().Decode(in)
			require.ErrorContains(t, err, tt.wantErr)
			if tt.wantIs != nil {
				require.ErrorIs(t, err, tt.wantIs)
			}
			// Nothing decrypted is handed back with the error.
			require.Equal(t, in, dec)
		})
	}
}

func TestDataConverter(t *testing.T) {
	r := newKeySet(t, "k1").ring(t, "k1")
	dc := crypt.DataConverter(r)
	type input struct {
		Name string
		Page int
	}
	want := input{"Ada Lovelace's notes", 3}
	p, err := dc.ToPayload(want)
	require.NoError(t, err)
	require.Equal(t, crypt.EncodingEncrypted, string(p.GetMetadata()["encoding"]))
	require.NotContains(t, string(p.GetData()), "Lovelace")
	var got input
	require.NoError(t, dc.FromPayload(p, &got))
	require.Equal(t, want, got)
	require.Equal(t, `{"Name":"Ada Lovelace's notes","Page":3}`, dc.ToString(p))

	// A plain payload of an older history still converts.
	var s string
	require.NoError(t, dc.FromPayload(jsonPayload(t, "older"), &s))
	require.Equal(t, "older", s)
}

func TestFailureConverter(t *testing.T) {
	r := newKeySet(t, "k1").ring(t, "k1")
	fc := crypt.FailureConverter(crypt.DataConverter(r))
	cause := errors.New("page 3 of contract-ada.pdf: SSN 123-45-6789 unreadable")
	err := temporal.NewNonRetryableApplicationError("extract failed for Ada Lovelace", "ExtractFailed", cause, "detail: Ada")

	f := fc.ErrorToFailure(err)
	// The service sees neither the message nor the cause's nor the details.
	raw, mErr := proto.Marshal(f)
	require.NoError(t, mErr)
	for _, secret := range []string{"Ada", "Lovelace", "123-45-6789", "contract-ada"} {
		require.NotContains(t, string(raw), secret)
	}
	require.Equal(t, "Encoded failure", f.GetMessage())
	require.Equal(t, crypt.EncodingEncrypted, string(f.GetEncodedAttributes().GetMetadata()["encoding"]))
	require.Equal(t, "k1", string(f.GetEncodedAttributes().GetMetadata()[crypt.MetadataKeyID]))

	back := fc.FailureToError(f)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, back, &appErr)
	require.Equal(t, "extract failed for Ada Lovelace", appErr.Message())
	require.Equal(t, "ExtractFailed", appErr.Type())
	require.True(t, appErr.NonRetryable())
	var detail string
	require.NoError(t, appErr.Details(&detail))
	require.Equal(t, "detail: Ada", detail)
	require.ErrorContains(t, errors.Unwrap(back), "SSN 123-45-6789 unreadable")
}
