package api

import (
	"net/http"
	"slices"

	"github.com/rs/cors"
)

// corsMaxAge is how long a browser may reuse a preflight's answer.
const corsMaxAge = 600

// withCORS lets browser pages on s.CORSOrigins call the API. rs/cors
// answers preflights (OPTIONS with Access-Control-Request-Method) for every
// path before the router sees them, and adds the CORS headers to actual
// requests; a request from another origin gets no CORS headers, and the
// browser keeps its answer from the page. No credentials: the API's key
// travels in the Authorization header, which a page must set itself, so a
// "*" origin cannot ride on a user's cookies.
func (s *Server) withCORS(h http.Handler) http.Handler {
	if len(s.CORSOrigins) == 0 {
		return h
	}
	return cors.New(cors.Options{
		AllowedOrigins: slices.Clone(s.CORSOrigins),
		AllowedMethods: []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodDelete},
		// What Docket's clients send: the key, JSON bodies, idempotent
		// starts, resuming an event stream, and the namespace the Web UI
		// names to the codec server.
		AllowedHeaders: []string{"Authorization", "Content-Type", "Idempotency-Key", "Last-Event-ID", "X-Namespace"},
		// What a page needs to read of an answer: where a job is, when to
		// retry, and why a key was refused.
		ExposedHeaders:   []string{"Location", "Retry-After", "WWW-Authenticate"},
		MaxAge:           corsMaxAge,
		AllowCredentials: false,
	}).Handler(h)
}
