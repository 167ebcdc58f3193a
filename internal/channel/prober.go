package channel

import (
	"context"
	"fmt"
	"time"

	"github.com/faxd/faxd/internal/sip"
	"github.com/faxd/faxd/routing"
)

// probeTimeout bounds one OPTIONS probe: a gateway that takes longer is
// as good as down for a fax call.
const probeTimeout = 5 * time.Second

// Prober probes gateways with SIP OPTIONS (routing.Prober).
type Prober struct {
	UA *sip.UA
	// Gateway looks up a gateway's transport; addresses come from the router.
	Gateway func(name string) Gateway
}

// Probe reports an error when the gateway does not answer, or answers
// with a server error (5xx: it is up but cannot take calls). Any other
// final response, 404 and 405 included, shows a working SIP stack.
func (p Prober) Probe(ctx context.Context, g routing.Gateway) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	target := "sip:" + g.Address
	if t := p.Gateway(g.Name).transport(); t != "udp" {
		target += ";transport=" + t
	}
	code, err := p.UA.Options(ctx, target)
	if err != nil {
		return fmt.Errorf("OPTIONS %s: %w", g.Name, err)
	}
	if code >= 500 || code == 408 {
		return fmt.Errorf("OPTIONS %s: answered %d", g.Name, code)
	}
	return nil
}
