package api

import (
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gorilla/mux"
)

// codec is POST /codec/encode and /codec/decode: Temporal's codec server
// protocol, so that the Web UI (--ui-codec-endpoint) and the temporal CLI
// (--codec-endpoint) show payloads decrypted. Temporal's own handler
// (converter.NewPayloadCodecHTTPHandler, through crypt.Ring.CodecHandler)
// speaks it; every namespace uses the one ring, so the X-Namespace header
// the UI sends needs no routing. Its plain-text errors become the API's
// problems. A server without a ring stores payloads in plain text and has
// nothing to decode.
func (s *Server) codec(w http.ResponseWriter, r *http.Request) {
	if s.Ring == nil {
		writeProblem(w, r, http.StatusNotFound, "not-found",
			"encryption is off (no DOCKET_ENCRYPTION_KEYS_FILE): payloads are stored in plain text and need no codec", nil)
		return
	}
	rec := httptest.NewRecorder()
	s.Ring.CodecHandler().ServeHTTP(rec, r)
	if rec.Code != http.StatusOK {
		op := strings.TrimPrefix(r.URL.Path, "/codec/")
		writeProblem(w, r, http.StatusBadRequest, "invalid-payloads",
			"the payloads could not be "+op+"d: "+strings.TrimSpace(rec.Body.String()), nil)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(rec.Body.Bytes())
}

// CodecHandler serves only the codec server routes, without API keys, for
// the listener DOCKET_CODEC_ADDR names: the Temporal Web UI calls the codec
// from the browser and cannot send an API key. Everything else is 404.
// config.Load allows that listener on loopback only unless told otherwise.
func (s *Server) CodecHandler() http.Handler {
	r := mux.NewRouter()
	r.SkipClean(true)
	for _, path := range []string{"/codec/encode", "/codec/decode"} {
		r.Handle(path, s.onlyParams(nil, s.codec)).Methods(http.MethodPost)
	}
	r.NotFoundHandler = http.HandlerFunc(notFound)
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Allow", http.MethodPost)
		writeProblem(w, req, http.StatusMethodNotAllowed, "method-not-allowed", req.Method+" is not allowed here; allowed: POST", nil)
	})
	r.Use(s.recoverer, s.logRequests, cleanPaths)
	return s.withCORS(r)
}
