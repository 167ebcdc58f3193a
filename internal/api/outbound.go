package api

import (
	"errors"
	"net/http"

	"github.com/faxd/faxd/internal/inbound"
	"github.com/faxd/faxd/internal/netguard"
)

// checkOutbound answers 422 naming field when u's literal address is one
// faxd refuses to call (loopback, private, link-local...; see
// notify.outbound_allow). A host name passes: what it resolves to is
// checked when the delivery dials it.
func (a *API) checkOutbound(field, u string) error {
	if u == "" {
		return nil
	}
	err := a.outbound.CheckURL(u)
	if !errors.Is(err, netguard.ErrRefused) {
		return nil // malformed URLs are the field validation's to report
	}
	msg := field + ": " + err.Error()
	p := newProblem(http.StatusUnprocessableEntity, "refused-address", "%s", msg)
	p.Errors = []string{msg}
	return p
}

func (a *API) checkDestination(d DestinationInput) error {
	if d.Kind != inbound.DestWebhook {
		return nil
	}
	return a.checkOutbound("destination.url", d.URL)
}
