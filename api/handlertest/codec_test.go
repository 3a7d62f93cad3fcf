package handlertest_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/docket-dev/docket/api"
	"github.com/docket-dev/docket/internal/crypt"
)

func ring(t *testing.T, id string) *crypt.Ring {
	t.Helper()
	key := make([]byte, crypt.KeySize)
	_, err := rand.Read(key)
	require.NoError(t, err)
	r, err := crypt.ParseRing(context.Background(), []byte(`{"keys":[{"id":"`+id+`","key":"`+base64.StdEncoding.EncodeToString(key)+`"}]}`), nil)
	require.NoError(t, err)
	return r
}

// The codec server routes: what /codec/encode encrypts, /codec/decode gives
// back; a payload of another ring's key is a 400 problem naming the key,
// and an altered one a 400 problem naming the failed authentication, never
// a 200 with garbage; a server without a ring answers 404.
func TestCodecRoutes(t *testing.T) {
	r := ring(t, "k1")
	h := newHarness(t, func(s *api.Server) { s.Ring = r })
	plain, err := converter.GetDefaultDataConverter().ToPayloads(map[string]string{"iban": "DE00 MARKER"})
	require.NoError(t, err)
	body, err := protojson.Marshal(plain)
	require.NoError(t, err)

	enc := h.call(t, http.MethodPost, "/codec/encode", body, nil)
	require.Equal(t, http.StatusOK, enc.Status, "body: %s", enc.Body)
	require.NotContains(t, string(enc.Body), base64.StdEncoding.EncodeToString([]byte(`{"iban":"DE00 MARKER"}`)))
	var encoded commonpb.Payloads
	require.NoError(t, protojson.Unmarshal(enc.Body, &encoded))
	require.Equal(t, crypt.EncodingEncrypted, string(encoded.Payloads[0].Metadata["encoding"]))

	dec := h.call(t, http.MethodPost, "/codec/decode", enc.Body, nil)
	require.Equal(t, http.StatusOK, dec.Status)
	var decoded commonpb.Payloads
	require.NoError(t, protojson.Unmarshal(dec.Body, &decoded))
	var got map[string]string
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(&decoded, &got))
	require.Equal(t, "DE00 MARKER", got["iban"])

	other := newHarness(t, func(s *api.Server) { s.Ring = ring(t, "k2") })
	bad := other.call(t, http.MethodPost, "/codec/decode", enc.Body, nil)
	require.Equal(t, http.StatusBadRequest, bad.Status)
	require.Contains(t, bad.Problem(t).Detail, `"k1"`)
	require.Equal(t, http.StatusBadRequest, h.call(t, http.MethodPost, "/codec/decode", []byte(`{"payloads": 7}`), nil).Status)

	// One byte of the ciphertext flipped, as a payload altered in
	// Temporal's database would be: GCM's authentication refuses it.
	flipped := proto.Clone(&encoded).(*commonpb.Payloads)
	flipped.Payloads[0].Data[len(flipped.Payloads[0].Data)/2] ^= 0x01
	tamperedBody, err := protojson.Marshal(flipped)
	require.NoError(t, err)
	tampered := h.call(t, http.MethodPost, "/codec/decode", tamperedBody, nil)
	require.Equal(t, http.StatusBadRequest, tampered.Status, "body: %s", tampered.Body)
	p := tampered.Problem(t)
	require.Equal(t, "https://docket.dev/problems/invalid-payloads", p.Type)
	require.Contains(t, p.Detail, "authentication failed")
	require.NotContains(t, string(tampered.Body), "MARKER")

	off := newHarness(t)
	require.Equal(t, http.StatusNotFound, off.call(t, http.MethodPost, "/codec/decode", enc.Body, nil).Status)
}
