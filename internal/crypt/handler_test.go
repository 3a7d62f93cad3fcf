package crypt_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/docket-dev/docket/internal/crypt"
)

// codecServer serves r's CodecHandler under /codec/, as the API mounts it.
func codecServer(t *testing.T, r *crypt.Ring) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/codec/", r.CodecHandler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// post sends payloads to the codec server as the Web UI does (protojson)
// and returns the status, the body and, on 200, the payloads.
func post(t *testing.T, url string, payloads ...*commonpb.Payload) (int, string, []*commonpb.Payload) {
	t.Helper()
	body, err := protojson.Marshal(&commonpb.Payloads{Payloads: payloads})
	require.NoError(t, err)
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, string(out), nil
	}
	var got commonpb.Payloads
	require.NoError(t, protojson.Unmarshal(out, &got))
	return resp.StatusCode, string(out), got.GetPayloads()
}

func TestCodecHandler(t *testing.T) {
	ks := newKeySet(t, "k1")
	r := ks.ring(t, "k1")
	srv := codecServer(t, r)
	p := jsonPayload(t, map[string]string{"name": "Ada Lovelace"})

	t.Run("encode then decode", func(t *testing.T) {
		code, body, enc := post(t, srv.URL+"/codec/encode", p)
		require.Equal(t, http.StatusOK, code, body)
		require.Len(t, enc, 1)
		require.Equal(t, crypt.EncodingEncrypted, string(enc[0].GetMetadata()["encoding"]))
		require.NotContains(t, body, "Lovelace")
		// What the server encoded, the local codec decodes.
		local, err := r.Codec().Decode(enc)
		require.NoError(t, err)
		require.True(t, proto.Equal(p, local[0]))

		code, body, dec := post(t, srv.URL+"/codec/decode", enc...)
		require.Equal(t, http.StatusOK, code, body)
		require.Len(t, dec, 1)
		require.True(t, proto.Equal(p, dec[0]), "decoded %v", dec[0])
	})

	t.Run("plain payloads decode to themselves", func(t *testing.T) {
		code, body, dec := post(t, srv.URL+"/codec/decode", p)
		require.Equal(t, http.StatusOK, code, body)
		require.True(t, proto.Equal(p, dec[0]))
	})

	t.Run("another ring's payload is an error, not ciphertext", func(t *testing.T) {
		other := newKeySet(t, "k9").ring(t, "k9")
		enc, err := other.Codec().Encode([]*commonpb.Payload{p})
		require.NoError(t, err)
		code, body, _ := post(t, srv.URL+"/codec/decode", enc...)
		require.Equal(t, http.StatusBadRequest, code)
		require.Contains(t, body, `key "k9": encryption key is not in the key ring`)
		require.NotContains(t, body, "binary/encrypted")
	})

	t.Run("another ring's key of the same id is an error", func(t *testing.T) {
		same := newKeySet(t, "k1").ring(t, "k1")
		enc, err := same.Codec().Encode([]*commonpb.Payload{p})
		require.NoError(t, err)
		code, body, _ := post(t, srv.URL+"/codec/decode", enc...)
		require.Equal(t, http.StatusBadRequest, code)
		require.Contains(t, body, `under key "k1": message authentication failed`)
	})

	t.Run("only POST of encode and decode", func(t *testing.T) {
		resp, err := http.Get(srv.URL + "/codec/decode")
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusNotFound, resp.StatusCode)
		code, _, _ := post(t, srv.URL+"/codec/other", p)
		require.Equal(t, http.StatusNotFound, code)
	})

	t.Run("oversized body is refused", func(t *testing.T) {
		big := `{"payloads":[{"data":"` + strings.Repeat("A", 17<<20) + `"}]}`
		resp, err := http.Post(srv.URL+"/codec/decode", "application/json", strings.NewReader(big))
		require.NoError(t, err)
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		require.Contains(t, string(out), "request body too large")
	})
}

// The SDK's remote codec, as the temporal CLI and a remote data converter
// use it, decodes through the handler what the local codec encoded, and
// passes the handler's errors on.
func TestRemoteCodec(t *testing.T) {
	ks := newKeySet(t, "k2", "k1")
	r := ks.ring(t, "k2", "k1")
	srv := codecServer(t, r)
	remote := converter.NewRemotePayloadCodec(converter.RemotePayloadCodecOptions{Endpoint: srv.URL + "/codec"})
	in := []*commonpb.Payload{jsonPayload(t, "first"), jsonPayload(t, 42), jsonPayload(t, "plain")}

	// Rotated: the first was encrypted under k1 before k2 became active.
	old, err := ks.ring(t, "k1").Codec().Encode(in[:1])
	require.NoError(t, err)
	fresh, err := r.Codec().Encode(in[1:2])
	require.NoError(t, err)
	enc := []*commonpb.Payload{old[0], fresh[0], in[2]}

	dec, err := remote.Decode(enc)
	require.NoError(t, err)
	require.Len(t, dec, 3)
	for i := range in {
		require.True(t, proto.Equal(in[i], dec[i]), "payload %d: %v", i, dec[i])
	}

	// And the other way: the handler encodes, the local codec decodes.
	renc, err := remote.Encode(in)
	require.NoError(t, err)
	local, err := r.Codec().Decode(renc)
	require.NoError(t, err)
	for i := range in {
		require.True(t, proto.Equal(in[i], local[i]))
		require.Equal(t, "k2", string(renc[i].GetMetadata()[crypt.MetadataKeyID]))
	}

	_, err = converter.NewRemotePayloadCodec(converter.RemotePayloadCodecOptions{Endpoint: codecServer(t, ks.ring(t, "k2")).URL + "/codec"}).Decode(old)
	require.ErrorContains(t, err, `Bad Request: decrypt payload: key "k1": encryption key is not in the key ring`)
}
