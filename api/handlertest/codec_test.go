package handlertest_test

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/docket-dev/docket/api"
	"github.com/docket-dev/docket/api/internal/spectest"
	"github.com/docket-dev/docket/internal/auth"
	"github.com/docket-dev/docket/internal/crypt"
)

func ring(t *testing.T, id string) *crypt.Ring {
	t.Helper()
	r, err := crypt.RandomRing(id)
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

// The codec-only listener (DOCKET_CODEC_ADDR) decodes without an API key,
// for the Web UI, while the API itself asks for one; it serves nothing else.
func TestCodecListener(t *testing.T) {
	keysFile := filepath.Join(t.TempDir(), "keys.json")
	require.NoError(t, os.WriteFile(keysFile, []byte(`{"keys":[]}`), 0o600))
	keys, err := auth.Open(keysFile, quiet())
	require.NoError(t, err)
	t.Cleanup(keys.Close)
	s := &api.Server{Jobs: &recordingJobs{}, Log: quiet(), Ring: ring(t, "k1"), Keys: keys,
		CORSOrigins: []string{"http://localhost:8233"}}
	main := httptest.NewServer(s.Handler())
	t.Cleanup(main.Close)
	codec := httptest.NewServer(s.CodecHandler())
	t.Cleanup(codec.Close)

	plain, err := converter.GetDefaultDataConverter().ToPayloads("hello")
	require.NoError(t, err)
	body, err := protojson.Marshal(plain)
	require.NoError(t, err)
	require.Equal(t, http.StatusUnauthorized, spectest.Call(t, main.URL, http.MethodPost, "/codec/encode", body, nil).Status)
	enc := spectest.Call(t, codec.URL, http.MethodPost, "/codec/encode", body, nil)
	require.Equal(t, http.StatusOK, enc.Status)
	dec := spectest.Call(t, codec.URL, http.MethodPost, "/codec/decode", enc.Body, http.Header{"Origin": {"http://localhost:8233"}})
	require.Equal(t, http.StatusOK, dec.Status)
	require.Equal(t, "http://localhost:8233", dec.Header.Get("Access-Control-Allow-Origin"), "the Web UI's origin may call it")

	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/jobs", http.StatusNotFound},
		{http.MethodPost, "/jobs", http.StatusNotFound},
		{http.MethodGet, "/codec/decode", http.StatusMethodNotAllowed},
	} {
		req, err := http.NewRequest(tc.method, codec.URL+tc.path, nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, tc.want, resp.StatusCode, "%s %s", tc.method, tc.path)
		require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	}
}
