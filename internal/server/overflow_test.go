package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/faxd/faxd/archive"
	"github.com/faxd/faxd/internal/channel"
	"github.com/faxd/faxd/internal/config"
	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/internal/sip"
	"github.com/faxd/faxd/t38/session"
	"github.com/faxd/faxd/t38/t30"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// A gateway's call to a node whose only inbound channel is busy is
// redirected (302) to the other live node of the cluster, and lands
// there: two real servers on one queue database, and a SIP peer (faxd's
// own user agent, playing the gateway) that follows the redirect and
// sends a page over T.38. The second node receives and archives the fax
// under the dialled number.
func TestInboundOverflowRedirect(t *testing.T) {
	t.Parallel()
	dsn := pgtest.NewDSN(t)
	inbound := func(id string) func(*config.Config) {
		return func(c *config.Config) {
			c.Node.ID = id
			c.SIP.MediaBind = "127.0.0.1"
			c.SIP.AllowFrom = []string{"127.0.0.1/32"}
			c.Channels.Count = 1
			c.Channel.InboundCount = 1
			c.Channel.StationID = "+1 555 0199"
			c.Queue.HeartbeatInterval = config.Duration(200 * time.Millisecond)
			c.Queue.LeaseTTL = config.Duration(5 * time.Second)
		}
	}
	a, _ := startNode(t, dsn, inbound("ovf-a"))
	b, _ := startNode(t, dsn, inbound("ovf-b"))
	if !a.cfg.SIP.OverflowRedirect {
		t.Fatal("sip.overflow_redirect is not on by default")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	gw, err := sip.NewUA(sip.Config{ListenUDP: "127.0.0.1:0", MediaBind: "127.0.0.1", AllowFrom: []string{"127.0.0.1/32"}},
		nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	aAddr, _ := a.channels.UA.Addr("udp")
	toA := "sip:+15550123@" + aAddr.String()

	// Both nodes advertise a free inbound channel and their contact.
	waitFor(t, 30*time.Second, "node b's heartbeat with its SIP contact", func() bool {
		node, contact, ok, err := a.Queue.OverflowTarget(ctx, "ovf-a")
		return err == nil && ok && node == "ovf-b" && contact == b.channels.UA.ContactURI()
	})
	// The first call takes node a's only inbound channel (and stays up).
	first, err := gw.Dial(ctx, sip.Dial{Target: toA, CallerID: "15550100"})
	if err != nil {
		t.Fatalf("first call to node a: %v", err)
	}
	defer first.Hangup(context.Background())

	// The second is redirected to node b.
	_, err = gw.Dial(ctx, sip.Dial{Target: toA, CallerID: "15550100"})
	var o *sip.Outcome
	if !errors.As(err, &o) || o.Status != 302 {
		t.Fatalf("second call to the full node a: %v, want 302", err)
	}
	t.Logf("redirected to %s", o.Contact)
	call, err := gw.Dial(ctx, sip.Dial{Target: o.Contact, CallerID: "15550100"})
	if err != nil {
		t.Fatalf("following the redirect to %s: %v", o.Contact, err)
	}
	pages := testPages(1, 120)
	s, rc, err := channel.Terminal(call.Media(), t30.Config{Calling: true, Transmit: true, Ident: "+1 555 0100",
		Pages: t30.ImagePages(pages)})
	if err != nil {
		t.Fatal(err)
	}
	res, err := session.Run(ctx, call.Media().Conn, s, rc)
	call.Hangup(context.Background())
	if res == nil || !res.OK() {
		t.Fatalf("fax over the redirected call: %+v %v", res, err)
	}

	in := waitArchived(t, b, archive.Filter{Direction: archive.Inbound, LocalNumber: "+15550123"}, 1)[0]
	if in.Result != "received" || in.Pages != 1 || in.NodeID != "ovf-b" || in.RemoteNumber != "15550100" {
		t.Fatalf("received fax %+v, want received on ovf-b for +15550123", in)
	}
	got := receivedPages(t, b, in.Document)
	if len(got) != 1 || got[0].Bilevel == nil || !got[0].Bilevel.Equal(pages[0]) {
		t.Fatal("the page received on node b differs from the page sent")
	}
	if n := testutil.ToFloat64(a.channels.UA.Metrics().Redirected.WithLabelValues("busy")); n != 1 {
		t.Fatalf("node a counted %v redirects, want 1", n)
	}
}
