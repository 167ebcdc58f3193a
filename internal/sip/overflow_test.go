package sip

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fixedOverflow names one node; it counts its lookups.
type fixedOverflow struct {
	node, contact string
	ok            bool
	asked         atomic.Int32
}

func (f *fixedOverflow) Target(context.Context) (string, string, bool) {
	f.asked.Add(1)
	return f.node, f.contact, f.ok
}

// contactOf is a UA's UDP contact without user part, as nodes advertise it.
func contactOf(u *UA) string {
	ap, _ := u.Addr("udp")
	return "sip:" + ap.String()
}

// A node that cannot take a call (busy, standby, draining) answers 302
// with the other node's Contact, carrying the dialled number and the
// overflow mark; the caller follows it and the call lands on the other
// node with the same number. There, a marked call that cannot be taken
// is refused (486), never redirected again.
func TestOverflowRedirect(t *testing.T) {
	t.Parallel()
	caller := newTestUA(t, nil)
	cases := []struct {
		name string
		prep func(*UA)
		why  string
	}{
		{"busy", func(u *UA) { u.SetAdmission(newAnswering(Busy)) }, "busy"},
		{"standby", func(u *UA) { u.SetAdmission(newAnswering(Accept)); u.SetState(StateStandby) }, "standby"},
		{"draining", func(u *UA) { u.SetAdmission(newAnswering(Unavailable)) }, "draining"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			second := newTestUA(t, func(c *Config) { c.OverflowRedirect = true })
			ans := newAnswering(Accept)
			second.SetAdmission(ans)
			first := newTestUA(t, func(c *Config) { c.OverflowRedirect = true })
			tc.prep(first)
			first.SetOverflow(&fixedOverflow{node: "second", contact: contactOf(second), ok: true})
			// The second node is full too: a redirected call must stop there.
			loop := &fixedOverflow{node: "first", contact: contactOf(first), ok: true}
			second.SetOverflow(loop)

			_, err := caller.Dial(context.Background(), Dial{Target: target(first, "udp", "+4930123")})
			o := outcomeOf(t, err)
			if o.Status != 302 || o.Contact == "" {
				t.Fatalf("got %v contact %q, want 302 with a Contact", o, o.Contact)
			}
			var uri sip.Uri
			if err := sip.ParseUri(o.Contact, &uri); err != nil {
				t.Fatal(err)
			}
			ap, _ := second.Addr("udp")
			if uri.User != "+4930123" || uri.Port != int(ap.Port()) || !uri.UriParams.Has(OverflowParam) {
				t.Fatalf("redirect Contact %q: want user +4930123, port %d and %s", o.Contact, ap.Port(), OverflowParam)
			}
			if got := testutilCount(first, tc.why); got != 1 {
				t.Fatalf("faxd_sip_overflow_redirects_total{why=%q} = %v, want 1", tc.why, got)
			}

			call, err := caller.Dial(context.Background(), Dial{Target: o.Contact})
			if err != nil {
				t.Fatalf("following the redirect: %v", err)
			}
			in := waitCall(t, ans)
			exchange(t, call.Media(), in.Media())
			ans.mu.Lock()
			did := ans.in[len(ans.in)-1].DID
			ans.mu.Unlock()
			if did != "+4930123" {
				t.Fatalf("redirected call reached the second node for %q, want +4930123", did)
			}
			call.Hangup(context.Background())

			// Now the second node is busy: the marked INVITE gets 486 and
			// the second node never looks for a target.
			second.SetAdmission(newAnswering(Busy))
			_, err = caller.Dial(context.Background(), Dial{Target: o.Contact})
			if o2 := outcomeOf(t, err); o2.Status != 486 {
				t.Fatalf("marked INVITE at a busy node: %v, want 486", o2)
			}
			if n := loop.asked.Load(); n != 0 {
				t.Fatalf("a redirected call was looked up for another redirect %d times", n)
			}
		})
	}
}

// Without a target, or with sip.overflow_redirect off, the answers stay
// 486 and 503.
func TestOverflowFallBack(t *testing.T) {
	t.Parallel()
	caller := newTestUA(t, nil)
	for _, tc := range []struct {
		name     string
		redirect bool
		ok       bool
		standby  bool
		status   int
		asked    int32
	}{
		{"no target busy", true, false, false, 486, 1},
		{"no target standby", true, false, true, 503, 1},
		{"off busy", false, true, false, 486, 0},
		{"off standby", false, true, true, 503, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			other := newTestUA(t, nil)
			u := newTestUA(t, func(c *Config) { c.OverflowRedirect = tc.redirect })
			u.SetAdmission(newAnswering(Busy))
			if tc.standby {
				u.SetState(StateStandby)
			}
			f := &fixedOverflow{node: "other", contact: contactOf(other), ok: tc.ok}
			u.SetOverflow(f)
			_, err := caller.Dial(context.Background(), Dial{Target: target(u, "udp", "1")})
			if o := outcomeOf(t, err); o.Status != tc.status {
				t.Fatalf("got %v, want %d", o, tc.status)
			}
			if f.asked.Load() != tc.asked {
				t.Fatalf("target looked up %d times, want %d", f.asked.Load(), tc.asked)
			}
		})
	}
}

func testutilCount(u *UA, why string) float64 {
	return testutil.ToFloat64(u.metrics.Redirected.WithLabelValues(why))
}
