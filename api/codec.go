package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
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
