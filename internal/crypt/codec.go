package crypt

import (
	"fmt"
	"net/http"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"
)

// Metadata of an encrypted payload.
const (
	// EncodingEncrypted is the "encoding" metadata value of a payload the
	// codec encrypted; Decode decrypts only payloads that carry it.
	EncodingEncrypted = "binary/encrypted"
	// MetadataKeyID is the metadata key naming the ring key that encrypted
	// a payload, so that Decode picks the key and a missing key is named.
	MetadataKeyID = "encryption-key-id"
)

// maxCodecRequestBytes bounds a codec-server request body, which the SDK's
// handler reads whole: Temporal refuses a gRPC message over 4 MiB, and a
// request carries one event's payloads in base64 (4/3 of that), so 16 MiB
// is ample for honest clients and keeps one request from taking the memory.
const maxCodecRequestBytes = 16 << 20

// payloadAAD is the GCM additional data of a payload: its key id, so that a
// payload's key-id metadata cannot be changed without the decryption
// failing, behind a label that no sealed object's additional data has
// (theirs start with the envelope's magic), so that a payload's ciphertext
// cannot be passed off as a sealed object's wrapped key, or the reverse,
// and decrypted by whoever may call the codec server.
func payloadAAD(id string) []byte { return []byte("docket/payload\x00" + id) }

// codec is the ring's converter.PayloadCodec.
type codec struct{ r *Ring }

// Codec returns the ring's Temporal payload codec. Encode replaces each
// payload by one whose data is the AES-256-GCM encryption, under the
// active key, of the whole original payload (metadata and data, as
// protobuf), with metadata encoding EncodingEncrypted and MetadataKeyID.
// Decode reverses that for payloads with encoding EncodingEncrypted and
// passes any other payload through, so that histories written before
// encryption was turned on still replay.
func (r *Ring) Codec() converter.PayloadCodec { return codec{r} }

// Encode implements converter.PayloadCodec.
func (c codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	id := c.r.active
	aead := c.r.aeads[id]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return payloads, fmt.Errorf("encrypt payload: marshal it: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				converter.MetadataEncoding: []byte(EncodingEncrypted),
				MetadataKeyID:              []byte(id),
			},
			Data: aead.Seal(nil, nil, plain, payloadAAD(id)),
		}
	}
	return out, nil
}

// Decode implements converter.PayloadCodec. Its errors fail the workflow
// task or activity that needs the payload (which retries, so restarting
// with the right ring recovers), rather than handing it garbage.
func (c codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != EncodingEncrypted {
			out[i] = p
			continue
		}
		idBytes, ok := p.GetMetadata()[MetadataKeyID]
		if !ok {
			return payloads, fmt.Errorf("decrypt payload: its encoding is %s but it has no %s metadata", EncodingEncrypted, MetadataKeyID)
		}
		id := string(idBytes)
		aead, err := c.r.aead(id)
		if err != nil {
			return payloads, fmt.Errorf("decrypt payload: %w", err)
		}
		plain, err := aead.Open(nil, nil, p.GetData(), payloadAAD(id))
		if err != nil {
			return payloads, fmt.Errorf("decrypt payload under key %q: %w: it was altered, or encrypted by another key of that id", id, ErrAuthentication)
		}
		var orig commonpb.Payload
		if err := proto.Unmarshal(plain, &orig); err != nil {
			return payloads, fmt.Errorf("decrypt payload under key %q: unmarshal the decrypted payload: %w", id, err)
		}
		out[i] = &orig
	}
	return out, nil
}

// DataConverter is Temporal's default data converter with the ring's codec
// applied to every payload it makes. Clients and workers must all use it
// (with FailureConverter) for encryption to hold.
func DataConverter(r *Ring) converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), r.Codec())
}

// FailureConverter is Temporal's default failure converter, encoding with
// dc (DataConverter's), and with EncodeCommonAttributes so that failure
// messages and stack traces, which quote inputs and document text as often
// as not, are encrypted as well: the service then sees "Encoded failure".
func FailureConverter(dc converter.DataConverter) converter.FailureConverter {
	return temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter:          dc,
		EncodeCommonAttributes: true,
	})
}

// CodecHandler serves Temporal's codec-server protocol with the ring's
// codec: POST .../encode and POST .../decode with a JSON Payloads body, as
// the Web UI and the temporal CLI (--codec-endpoint) call it. It matches
// the paths by suffix, so it can be mounted under a prefix such as /codec/
// without stripping it. A payload it cannot decrypt is answered 400 with
// the error, never 200 with the ciphertext.
//
// It decrypts whatever it is sent, so it must be served behind
// authentication, to callers allowed to read every payload.
func (r *Ring) CodecHandler() http.Handler {
	h := converter.NewPayloadCodecHTTPHandler(r.Codec())
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Body != nil {
			req.Body = http.MaxBytesReader(w, req.Body, maxCodecRequestBytes)
		}
		h.ServeHTTP(w, req)
	})
}
