package api

import (
	"net/http"

	"github.com/docket-dev/docket/internal/tracing"
)

// routeSpan names the request's trace span after route, the template its
// route was registered with (route in Handler), before h runs. With
// tracing off there is no span and it does nothing.
func routeSpan(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tracing.RouteSpan(r, route)
		h.ServeHTTP(w, r)
	})
}
