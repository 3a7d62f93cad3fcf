package activities

import (
	"net/http"
	"time"

	"github.com/docket-dev/docket/internal/egress"
)

// ErrDestinationRefused is returned (wrapped) when a fetch would reach a
// destination that is not globally reachable unicast or is one of the
// worker's own addresses. It is egress.ErrRefused, kept under this name
// so that errors.Is checks written against activities keep working.
var ErrDestinationRefused = egress.ErrRefused

// NewFetchClient returns the client for fetching user-supplied URLs:
// egress.NewClient with allowHosts (exact host names or IP literals, as in
// the URL) exempt from the address checks.
func NewFetchClient(allowHosts []string, timeout time.Duration) *http.Client {
	return egress.NewClient(egress.Policy{AllowHosts: allowHosts}, timeout)
}
