// Package tracingtest is an OTLP trace receiver for tests: an HTTP server
// on loopback that decodes what the exporters send with the
// OpenTelemetry Collector's own pdata module, so that a test reads the
// spans exactly as a collector would receive them.
package tracingtest

import (
	"compress/gzip"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
)

// Span is one received span, flattened with its resource's service name.
type Span struct {
	TraceID, SpanID, ParentID string
	Name                      string
	Kind                      ptrace.SpanKind
	// Service is the resource's service.name.
	Service string
	// Attrs are the span's attributes as strings.
	Attrs map[string]string
}

// Receiver receives OTLP trace exports: HTTP protobuf on POST /v1/traces
// (Endpoint) and gRPC (GRPCEndpoint).
type Receiver struct {
	srv  *httptest.Server
	grpc *grpc.Server
	gln  net.Listener

	mu    sync.Mutex
	spans []Span
	// Errors counts requests it could not decode.
	errors int
}

// NewReceiver starts a receiver on two loopback ports; Close stops it.
func NewReceiver() (*Receiver, error) {
	r := &Receiver{}
	gln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for OTLP gRPC: %w", err)
	}
	r.gln = gln
	r.grpc = grpc.NewServer()
	ptraceotlp.RegisterGRPCServer(r.grpc, &grpcServer{r: r})
	go func() { _ = r.grpc.Serve(gln) }()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", r.export)
	r.srv = httptest.NewServer(mux)
	return r, nil
}

// Endpoint is the base URL of OTLP/HTTP, for OTEL_EXPORTER_OTLP_ENDPOINT
// (the exporter appends /v1/traces).
func (r *Receiver) Endpoint() string { return r.srv.URL }

// GRPCEndpoint is the URL of OTLP/gRPC (plain text, as the http scheme
// tells the exporter).
func (r *Receiver) GRPCEndpoint() string { return "http://" + r.gln.Addr().String() }

// Close stops the receiver.
func (r *Receiver) Close() {
	r.srv.Close()
	r.grpc.Stop()
}

type grpcServer struct {
	ptraceotlp.UnimplementedGRPCServer
	r *Receiver
}

func (s *grpcServer) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	s.r.add(req.Traces())
	return ptraceotlp.NewExportResponse(), nil
}

// Spans returns every span received so far.
func (r *Receiver) Spans() []Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Span(nil), r.spans...)
}

// Errors is how many exports could not be decoded.
func (r *Receiver) Errors() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.errors
}

func (r *Receiver) export(w http.ResponseWriter, req *http.Request) {
	body := io.Reader(req.Body)
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			r.fail(w, err)
			return
		}
		defer zr.Close()
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil {
		r.fail(w, err)
		return
	}
	in := ptraceotlp.NewExportRequest()
	if err := in.UnmarshalProto(b); err != nil {
		r.fail(w, err)
		return
	}
	r.add(in.Traces())
	out, err := ptraceotlp.NewExportResponse().MarshalProto()
	if err != nil {
		r.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func (r *Receiver) fail(w http.ResponseWriter, err error) {
	r.mu.Lock()
	r.errors++
	r.mu.Unlock()
	http.Error(w, err.Error(), http.StatusBadRequest)
}

func (r *Receiver) add(td ptrace.Traces) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range td.ResourceSpans().All() {
		service := ""
		if v, ok := rs.Resource().Attributes().Get("service.name"); ok {
			service = v.AsString()
		}
		for _, ss := range rs.ScopeSpans().All() {
			for _, s := range ss.Spans().All() {
				tid, sid := s.TraceID(), s.SpanID()
				sp := Span{
					TraceID: hex.EncodeToString(tid[:]),
					SpanID:  hex.EncodeToString(sid[:]),
					Name:    s.Name(),
					Kind:    s.Kind(),
					Service: service,
					Attrs:   map[string]string{},
				}
				if p := s.ParentSpanID(); !p.IsEmpty() {
					sp.ParentID = hex.EncodeToString(p[:])
				}
				s.Attributes().Range(func(k string, v pcommon.Value) bool {
					sp.Attrs[k] = v.AsString()
					return true
				})
				r.spans = append(r.spans, sp)
			}
		}
	}
}
