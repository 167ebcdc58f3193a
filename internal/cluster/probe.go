package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// ErrPrimaryDown is what a probe returns when it reached its source and
// the primary is not alive there.
var ErrPrimaryDown = errors.New("primary down")

// ErrPrimaryGone (always with ErrPrimaryDown) says the primary's process
// is gone: its liveness session in the queue database ended, which
// happens when the process dies or stops. Unlike a missed heartbeat,
// which may be a network fault and is only acted on after
// consecutive_failures checks, it is acted on at once.
var ErrPrimaryGone = errors.New("primary process gone")

// LeaseProbe reads the primary's node lease in the shared queue database:
// the primary is alive while its lease is (it renews it every heartbeat).
type LeaseProbe struct {
	Nodes   Nodes
	Primary string
}

// Check implements Probe.
func (p LeaseProbe) Check(ctx context.Context) error {
	list, err := p.Nodes.Nodes(ctx)
	if err != nil {
		return fmt.Errorf("reading the primary's lease: %w", err)
	}
	for _, n := range list {
		if n.ID != p.Primary {
			continue
		}
		lease := "lease live until " + n.LeaseExpiresAt.UTC().Format(time.RFC3339)
		if !n.Live {
			lease = fmt.Sprintf("lease of %s expired at %s (last heartbeat %s)", p.Primary,
				n.LeaseExpiresAt.UTC().Format(time.RFC3339), n.LastHeartbeat.UTC().Format(time.RFC3339))
		}
		if n.ProcessGone {
			return fmt.Errorf("%w: %w: the database session of %s (incarnation %d) ended; %s",
				ErrPrimaryDown, ErrPrimaryGone, p.Primary, n.Incarnation, lease)
		}
		if n.Live {
			return nil
		}
		return fmt.Errorf("%w: %s", ErrPrimaryDown, lease)
	}
	return fmt.Errorf("%w: %s has no lease in the queue database", ErrPrimaryDown, p.Primary)
}

// Gone reports whether the primary's process is certainly gone (its
// liveness session ended). It is the cheap check a standby runs often
// between heartbeats; errors count as not gone.
func (p LeaseProbe) Gone(ctx context.Context) bool {
	list, err := p.Nodes.Nodes(ctx)
	if err != nil {
		return false
	}
	for _, n := range list {
		if n.ID == p.Primary {
			return n.ProcessGone
		}
	}
	return false
}

// HTTPProbe asks the primary's /readyz: 200 is alive, anything else (or
// no answer) is a failed heartbeat. It is how a standby with its own
// database watches its primary.
type HTTPProbe struct {
	URL    string // the primary's base URL
	Client *http.Client
}

// Check implements Probe.
func (p HTTPProbe) Check(ctx context.Context) error {
	c := p.Client
	if c == nil {
		c = http.DefaultClient
	}
	u := strings.TrimRight(p.URL, "/") + "/readyz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrPrimaryDown, u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s answered %d: %s", ErrPrimaryDown, u, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}

// AnyProbe succeeds when any of its probes does: with both the lease and
// /readyz configured, a standby that merely lost its network path to the
// primary's HTTP port does not promote while the lease says it lives.
type AnyProbe []Probe

// Check implements Probe.
func (ps AnyProbe) Check(ctx context.Context) error {
	var errs []error
	for _, p := range ps {
		err := p.Check(ctx)
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// NewProbe builds the configured primary check: the lease when primary_id
// is set, /readyz when primary_url is, either one alive when both are;
// nil when neither is (manual failover only).
func NewProbe(cfg StandbyConfig, nodes Nodes, client *http.Client) Probe {
	return newProbe(cfg, nodes, client)
}

// NewWatch is the cheap check of the primary's process between
// heartbeats: nil without a primary_id in a shared queue database.
func NewWatch(cfg StandbyConfig, nodes Nodes) Watch {
	if cfg.PrimaryID == "" || nodes == nil {
		return nil
	}
	return LeaseProbe{Nodes: nodes, Primary: cfg.PrimaryID}
}

func newProbe(cfg StandbyConfig, nodes Nodes, client *http.Client) Probe {
	var ps AnyProbe
	if cfg.PrimaryID != "" && nodes != nil {
		ps = append(ps, LeaseProbe{Nodes: nodes, Primary: cfg.PrimaryID})
	}
	if cfg.PrimaryURL != "" {
		ps = append(ps, HTTPProbe{URL: cfg.PrimaryURL, Client: client})
	}
	switch len(ps) {
	case 0:
		return nil
	case 1:
		return ps[0]
	}
	return ps
}
