package channel

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	good := Default()
	good.StationID = "+49 40 999"
	good.Gateways = []Gateway{{Name: "a", Address: "gw.example.net:5060"}, {Name: "b", Address: SelfAddress}, {Name: "c", Address: "[::1]:5070", Transport: "TCP"}}
	good.Routes = []Route{{Prefix: "+49", Gateway: "a", Cost: 1}, {Prefix: "", Gateway: "b"}}
	if errs := good.Validate(); len(errs) > 0 {
		t.Fatalf("good config refused: %v", errs)
	}
	bad := Default()
	bad.InboundCount = -1
	bad.StationID = "ACME FAX"
	bad.HeaderTemplate = "{{.Nope"
	bad.ProbeInterval = 0
	bad.Gateways = []Gateway{{Name: "a", Address: "x y"}, {Name: "a", Address: "h:1", Transport: "sctp", MaxChannels: -1, Password: "p"}, {Name: "s", Address: SelfAddress, Transport: "tcp"}}
	bad.Routes = []Route{{Prefix: "49x", Gateway: "zz", Cost: -1, Weight: -2}}
	msg := fmt.Sprint(bad.Validate())
	for _, key := range []string{
		"channel.inbound_count", "channel.station_id", "channel.header_template", "channel.probe_interval",
		"channel.gateways[0].address", "channel.gateways[1].name", "channel.gateways[1].transport",
		"channel.gateways[1].max_channels", "channel.gateways[1].username", "channel.gateways[2].transport",
		"channel.routes[0].gateway", "channel.routes[0].prefix", "channel.routes[0].cost", "channel.routes[0].weight",
	} {
		if !strings.Contains(msg, key) {
			t.Errorf("no problem reported for %s in %s", key, msg)
		}
	}
}

// Passwords never reach logs through the gateway's printed forms.
func TestGatewayHidesPassword(t *testing.T) {
	g := Gateway{Name: "gw", Address: "h:5060", Username: "u", Password: "s3cret"}
	for _, s := range []string{g.String(), fmt.Sprint(g), fmt.Sprintf("%v %+v", g, g), g.LogValue()} {
		if strings.Contains(s, "s3cret") {
			t.Errorf("password printed: %s", s)
		}
	}
}

func TestRoutingTableResolvesSelf(t *testing.T) {
	c := Default()
	c.Gateways = []Gateway{{Name: "self", Address: SelfAddress, MaxChannels: 2}}
	c.Routes = []Route{{Gateway: "self"}}
	gws, routes := c.RoutingTable("127.0.0.1:5099")
	if len(gws) != 1 || gws[0].Address != "127.0.0.1:5099" || gws[0].MaxChannels != 2 {
		t.Errorf("gateways %+v", gws)
	}
	if len(routes) != 1 || routes[0].Weight != 1 {
		t.Errorf("routes %+v", routes)
	}
}

func TestInboundGatewayBySource(t *testing.T) {
	p := &Pool{gateways: map[string]Gateway{
		"a":    {Name: "a", Address: "192.0.2.1:5060", MaxChannels: 4},
		"b":    {Name: "b", Address: "192.0.2.1:5070"},
		"c":    {Name: "c", Address: "192.0.2.2", MaxChannels: 2},
		"d":    {Name: "d", Address: "192.0.2.3", MaxChannels: 2},
		"e":    {Name: "e", Address: "192.0.2.3:5080", MaxChannels: 2},
		"name": {Name: "name", Address: "gw.example.net:5060", MaxChannels: 2},
	}}
	for _, tc := range []struct{ src, want string }{
		{"192.0.2.1:5060", "a"},   // address and port
		{"192.0.2.1:5070", "b"},   // the other gateway at that address
		{"192.0.2.1:40000", "a"},  // another port: the only one with max_channels
		{"192.0.2.2:5060", "c"},   // no port configured
		{"192.0.2.3:40000", ""},   // two candidates: not guessed
		{"192.0.2.3:5080", "e"},   // but the exact port decides
		{"198.51.100.7:5060", ""}, // unknown
		{"[::ffff:192.0.2.2]:5060", "c"},
	} {
		if got := p.inboundGateway(netip.MustParseAddrPort(tc.src)).Name; got != tc.want {
			t.Errorf("call from %s: gateway %q, want %q", tc.src, got, tc.want)
		}
	}
}
