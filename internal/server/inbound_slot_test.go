package server

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/faxd/faxd/internal/channel"
	"github.com/faxd/faxd/internal/config"
	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/internal/sip"
)

// An inbound call holds one of its gateway's max_channels in the queue
// database while it is up, so that no node of the cluster dials out on
// that channel, and gives it back when it ends. The gateway is a SIP peer
// (faxd's own user agent) whose address the node knows as gateway "gw".
func TestInboundCallHoldsGatewayChannel(t *testing.T) {
	t.Parallel()
	gw, err := sip.NewUA(sip.Config{ListenUDP: "127.0.0.1:0", MediaBind: "127.0.0.1", AllowFrom: []string{"127.0.0.1/32"}},
		nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	gwAddr, _ := gw.Addr("udp")

	dsn := pgtest.NewDSN(t)
	a, _ := startNode(t, dsn, func(c *config.Config) {
		c.Node.ID = "slot-a"
		c.SIP.MediaBind = "127.0.0.1"
		c.SIP.AllowFrom = []string{"127.0.0.1/32"}
		c.Channels.Count = 1
		c.Channel.InboundCount = 2
		c.Channel.Gateways = []channel.Gateway{{Name: "gw", Address: gwAddr.String(), MaxChannels: 2}}
		c.Channel.Routes = []channel.Route{{Prefix: "", Gateway: "gw"}}
	})
	pool := pgtest.Pool(t, dsn)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	held := func() (calls []string) {
		rows, err := pool.Query(ctx, `SELECT in_call FROM gateway_slots WHERE gateway = 'gw' AND in_call IS NOT NULL ORDER BY slot`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var c string
			if err := rows.Scan(&c); err != nil {
				t.Fatal(err)
			}
			calls = append(calls, c)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return calls
	}

	aAddr, _ := a.channels.UA.Addr("udp")
	call, err := gw.Dial(ctx, sip.Dial{Target: "sip:+15550123@" + aAddr.String(), CallerID: "15550100"})
	if err != nil {
		t.Fatalf("call to node a: %v", err)
	}
	// Answered: the call's channel is counted (the slot is taken before
	// the answer).
	if got := held(); len(got) != 1 || got[0] != call.CallID() {
		t.Fatalf("gateway slots held by inbound calls %v, want [%s]", got, call.CallID())
	}
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the inbound call's gateway channel given back", func() bool { return len(held()) == 0 })
}
