// Package channel is faxd's pool of fax channels: outbound workers that
// claim jobs from the queue, pick a gateway, call it over SIP and send the
// pages with the T.30 engine over T.38, and inbound channels that answer
// the gateways' calls, receive, store and archive the fax and hand it to
// inbound routing. See docs/channels.md.
package channel

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/faxd/faxd/internal/render"
	"github.com/faxd/faxd/routing"
)

// SelfAddress as a gateway address means this node's own SIP UDP listener
// (`make run`, and tests that fax themselves).
const SelfAddress = "self"

// Config is the channel section of faxd's configuration: gateways and
// routes for set-ups that keep them in the file, and per-call settings.
type Config struct {
	// InboundCount is how many calls this node answers at once; more get
	// 486 Busy Here. 0 takes channels.count.
	InboundCount int `yaml:"inbound_count"`
	// StationID is our TSI (sending) and CSI (receiving), at most 20
	// characters: digits, '+' and spaces.
	StationID string `yaml:"station_id"`
	// CallerID is the From number of jobs that set none; CallerName its
	// display name and the header line's sender name.
	CallerID   string `yaml:"caller_id"`
	CallerName string `yaml:"caller_name"`
	// HeaderTemplate is the header line stamped on each sent page (Go
	// text/template over render.HeaderInfo); empty sends pages as they are.
	HeaderTemplate string `yaml:"header_template"`
	// ECM enables T.30 error correction both ways.
	ECM bool `yaml:"ecm"`
	// ProbeInterval is how often a gateway in rotation gets a SIP OPTIONS
	// probe; ProbeRecheckInterval how often one that is down, or has just
	// failed a probe, is probed again. ProbeFailAfter failed probes in a
	// row take a gateway out, ProbeReadmitAfter good ones bring it back.
	// Each gateway may override them.
	ProbeInterval        time.Duration `yaml:"probe_interval"`
	ProbeRecheckInterval time.Duration `yaml:"probe_recheck_interval"`
	ProbeFailAfter       int           `yaml:"probe_fail_after"`
	ProbeReadmitAfter    int           `yaml:"probe_readmit_after"`
	// DrainTimeout is how long calls in progress may go on after a
	// shutdown began; then they are hung up and their jobs released.
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	Gateways     []Gateway     `yaml:"gateways"`
	Routes       []Route       `yaml:"routes"`
	// ClusterLimits makes gateways' max_channels and MaxCallsPerNumber
	// hold across every node sharing the queue database (call slots in
	// PostgreSQL); off, max_channels bounds each node's own calls only.
	ClusterLimits bool `yaml:"cluster_limits"`
	// MaxCallsPerNumber bounds concurrent calls to one destination number
	// across the cluster (with cluster_limits); 0 is unlimited.
	MaxCallsPerNumber int `yaml:"max_calls_per_number"`
	// NumberBusyDelay is how long a job whose number already has its
	// calls in progress waits before it is claimed again.
	NumberBusyDelay time.Duration `yaml:"number_busy_delay"`
	// SiteOverflowWait is how long a job waits for the site with the
	// cheapest route for its number before nodes of other sites may take
	// it (at once when that site has no live node).
	SiteOverflowWait time.Duration `yaml:"site_overflow_wait"`
	// TimeZone of the routes' cost windows (IANA name); "" is UTC.
	TimeZone string `yaml:"time_zone"`
}

// RouteWindow is a cost period of a route: from From to To ("HH:MM",
// To "24:00" is midnight; To before From runs past midnight) on Days
// ("mon".."sun"; none: every day) the route costs Cost.
type RouteWindow struct {
	Days []string `yaml:"days"`
	From string   `yaml:"from"`
	To   string   `yaml:"to"`
	Cost float64  `yaml:"cost"`
}

var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday,
	"wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

func parseClock(s string) (time.Duration, error) {
	var h, m int
	if n, err := fmt.Sscanf(s, "%d:%d", &h, &m); err != nil || n != 2 || len(s) != 5 || h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("%q: want HH:MM from 00:00 to 24:00", s)
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, nil
}

// Window converts the file's form for the router.
func (w RouteWindow) Window() (routing.Window, error) {
	from, err := parseClock(w.From)
	if err != nil {
		return routing.Window{}, fmt.Errorf("from %w", err)
	}
	to, err := parseClock(w.To)
	if err != nil {
		return routing.Window{}, fmt.Errorf("to %w", err)
	}
	if from == 24*time.Hour {
		return routing.Window{}, errors.New("from 24:00: a window starts before midnight")
	}
	out := routing.Window{From: from, To: to, Cost: w.Cost}
	for _, d := range w.Days {
		wd, ok := weekdays[strings.ToLower(d)]
		if !ok {
			return routing.Window{}, fmt.Errorf("day %q: want mon, tue, wed, thu, fri, sat or sun", d)
		}
		out.Days = append(out.Days, wd)
	}
	if w.Cost < 0 {
		return routing.Window{}, errors.New("negative cost")
	}
	return out, nil
}

// Location is the time zone of cost windows.
func (c *Config) Location() (*time.Location, error) {
	if c.TimeZone == "" {
		return time.UTC, nil
	}
	return time.LoadLocation(c.TimeZone)
}

// Gateway is an IP gateway as configured in the file.
type Gateway struct {
	Name string `yaml:"name"`
	// Address is host[:port] of the gateway's SIP side, or "self".
	Address   string `yaml:"address"`
	Transport string `yaml:"transport"` // udp (default), tcp or tls
	Username  string `yaml:"username"`
	Password  string `yaml:"password" secret:"true"`
	// MaxChannels bounds simultaneous calls through it; 0 is unlimited.
	MaxChannels int `yaml:"max_channels"`
	// Sites that reach it (none: all); SiteCosts adds a cost per site to
	// every route through it.
	Sites     []string           `yaml:"sites"`
	SiteCosts map[string]float64 `yaml:"site_costs"`
	// AudioFirst offers G.711 and switches to T.38 by re-INVITE, for
	// gateways that do not take T.38 in the first INVITE.
	AudioFirst bool `yaml:"audio_first"`
	// Media is t38 (the default), audio (G.711 only, over our audio
	// modems) or auto (G.711 first, T.38 when the far end agrees, else
	// the fax runs over audio). See sip.MediaMode.
	Media string `yaml:"media"`
	// VBD marks our G.711 offer as voice-band data (V.152).
	VBD bool `yaml:"vbd"`
	// FromHost replaces our host in From; AssertIdentity adds
	// P-Asserted-Identity (trusted gateways take the caller id from it).
	FromHost       string `yaml:"from_host"`
	AssertIdentity bool   `yaml:"assert_identity"`
	// The gateway's media profile; unset fields keep the sip: and
	// channel-wide settings. See Profile for each.
	T38Version         *int          `yaml:"t38_version"`
	T38MaxDatagram     int           `yaml:"t38_max_datagram"`
	T38ErrorCorrection string        `yaml:"t38_error_correction"`
	ECM                *bool         `yaml:"ecm"`
	MaxBitRate         int           `yaml:"max_bit_rate"`
	V17                *bool         `yaml:"v17"`
	ReinviteWait       time.Duration `yaml:"reinvite_wait"`
	RetryLadder        *bool         `yaml:"retry_ladder"`
	// Probe is "options" (the default) or "off" (health from calls alone:
	// a gateway taken out by a failed call returns after ProbeInterval).
	// The other Probe fields override the channel-wide values; 0 keeps them.
	Probe             string        `yaml:"probe"`
	ProbeInterval     time.Duration `yaml:"probe_interval"`
	ProbeFailAfter    int           `yaml:"probe_fail_after"`
	ProbeReadmitAfter int           `yaml:"probe_readmit_after"`
}

// ProbePolicy is the gateway's probing for the router.
func (g Gateway) ProbePolicy() routing.ProbePolicy {
	return routing.ProbePolicy{Mode: routing.ProbeMode(strings.ToLower(g.Probe)), Interval: g.ProbeInterval,
		FailAfter: g.ProbeFailAfter, ReadmitAfter: g.ProbeReadmitAfter}
}

// HealthPolicy is the channel-wide probing for the router.
func (c *Config) HealthPolicy() routing.HealthPolicy {
	return routing.HealthPolicy{Interval: c.ProbeInterval, DownInterval: c.ProbeRecheckInterval,
		FailAfter: c.ProbeFailAfter, ReadmitAfter: c.ProbeReadmitAfter}
}

// String hides the password from logs.
func (g Gateway) String() string {
	return fmt.Sprintf("Gateway{%s %s/%s user=%q}", g.Name, g.Address, g.transport(), g.Username)
}

// LogValue hides the password from slog.
func (g Gateway) LogValue() string { return g.String() }

func (g Gateway) transport() string {
	if g.Transport == "" {
		return "udp"
	}
	return strings.ToLower(g.Transport)
}

// Route sends numbers starting with Prefix through Gateway.
type Route struct {
	Prefix  string  `yaml:"prefix"`
	Gateway string  `yaml:"gateway"`
	Cost    float64 `yaml:"cost"`
	Weight  int     `yaml:"weight"`
	// Sites that may use the route (none: all); SiteCosts adds a cost
	// per site; Windows are its cost periods (cheap rates).
	Sites     []string           `yaml:"sites"`
	SiteCosts map[string]float64 `yaml:"site_costs"`
	Windows   []RouteWindow      `yaml:"windows"`
}

// Default is the embedded default: no gateways (outbound jobs fail with
// "no route" until some are configured), ECM on, probes every 30 s.
func Default() Config {
	return Config{
		StationID:            "",
		HeaderTemplate:       render.DefaultHeaderTemplate,
		ECM:                  true,
		ProbeInterval:        routing.DefaultProbeInterval,
		ProbeRecheckInterval: routing.DefaultProbeDownInterval,
		ProbeFailAfter:       routing.DefaultFailAfter,
		ProbeReadmitAfter:    routing.DefaultReadmitAfter,
		DrainTimeout:         2 * time.Minute,
		ClusterLimits:        true,
		MaxCallsPerNumber:    1,
		NumberBusyDelay:      30 * time.Second,
		SiteOverflowWait:     2 * time.Minute,
	}
}

// Validate reports every problem, keyed by its configuration path.
func (c *Config) Validate() []error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("channel.%s: %s", key, fmt.Sprintf(format, a...)))
	}
	if c.InboundCount < 0 || c.InboundCount > 10000 {
		bad("inbound_count", "%d: must be between 0 and 10000", c.InboundCount)
	}
	if len(c.StationID) > 20 || strings.Trim(c.StationID, "0123456789+ ") != "" {
		bad("station_id", "%q: at most 20 digits, '+' and spaces", c.StationID)
	}
	if c.HeaderTemplate != "" {
		if _, err := render.ParseHeaderTemplate(c.HeaderTemplate); err != nil {
			bad("header_template", "%v", err)
		}
	}
	if c.MaxCallsPerNumber < 0 || c.MaxCallsPerNumber > 1000 {
		bad("max_calls_per_number", "%d: must be between 0 (unlimited) and 1000", c.MaxCallsPerNumber)
	}
	if c.NumberBusyDelay < 0 || c.NumberBusyDelay > time.Hour {
		bad("number_busy_delay", "%v: must be between 0 and 1h", c.NumberBusyDelay)
	}
	if c.SiteOverflowWait < time.Second || c.SiteOverflowWait > 24*time.Hour {
		bad("site_overflow_wait", "%v: must be between 1s and 24h", c.SiteOverflowWait)
	}
	if _, err := c.Location(); err != nil {
		bad("time_zone", "%q: not a known time zone (an IANA name such as Europe/Berlin)", c.TimeZone)
	}
	for i, r := range c.Routes {
		for j, w := range r.Windows {
			if _, err := w.Window(); err != nil {
				bad(fmt.Sprintf("routes[%d].windows[%d]", i, j), "%v", err)
			}
		}
		for site, cost := range r.SiteCosts {
			if cost < 0 {
				bad(fmt.Sprintf("routes[%d].site_costs.%s", i, site), "negative cost")
			}
		}
	}
	for i, g := range c.Gateways {
		for site, cost := range g.SiteCosts {
			if cost < 0 {
				bad(fmt.Sprintf("gateways[%d].site_costs.%s", i, site), "negative cost")
			}
		}
	}
	if c.ProbeInterval < time.Second {
		bad("probe_interval", "%v: must be at least 1s", c.ProbeInterval)
	}
	if c.ProbeRecheckInterval < time.Second {
		bad("probe_recheck_interval", "%v: must be at least 1s", c.ProbeRecheckInterval)
	}
	if c.ProbeFailAfter < 1 || c.ProbeFailAfter > 100 {
		bad("probe_fail_after", "%d: must be from 1 to 100", c.ProbeFailAfter)
	}
	if c.ProbeReadmitAfter < 1 || c.ProbeReadmitAfter > 100 {
		bad("probe_readmit_after", "%d: must be from 1 to 100", c.ProbeReadmitAfter)
	}
	if c.DrainTimeout < 0 {
		bad("drain_timeout", "must not be negative")
	}
	names := map[string]bool{}
	for i, g := range c.Gateways {
		key := fmt.Sprintf("gateways[%d]", i)
		if g.Name == "" {
			bad(key+".name", "must not be empty")
		} else if names[g.Name] {
			bad(key+".name", "%q: duplicate", g.Name)
		}
		names[g.Name] = true
		if g.Address == "" {
			bad(key+".address", "must not be empty (host[:port] or %q)", SelfAddress)
		} else if g.Address != SelfAddress {
			if err := validHostPort(g.Address); err != nil {
				bad(key+".address", "%q: %v", g.Address, err)
			}
		}
		switch g.transport() {
		case "udp", "tcp", "tls":
		default:
			bad(key+".transport", "%q: must be udp, tcp or tls", g.Transport)
		}
		if g.Address == SelfAddress && g.transport() != "udp" {
			bad(key+".transport", "the %q gateway is reached over udp", SelfAddress)
		}
		if g.MaxChannels < 0 {
			bad(key+".max_channels", "must not be negative")
		}
		if g.Password != "" && g.Username == "" {
			bad(key+".username", "required with a password")
		}
		if err := g.ProbePolicy().Validate(); err != nil {
			bad(key+".probe", "%v", err)
		}
		if err := g.validateMedia(); err != nil {
			bad(key, "%v", err)
		}
	}
	for i, r := range c.Routes {
		key := fmt.Sprintf("routes[%d]", i)
		if !names[r.Gateway] {
			bad(key+".gateway", "%q: no such gateway", r.Gateway)
		}
		if strings.Trim(r.Prefix, "0123456789+*#") != "" {
			bad(key+".prefix", "%q: digits, '+', '*' and '#' only", r.Prefix)
		}
		if r.Cost < 0 {
			bad(key+".cost", "must not be negative")
		}
		if r.Weight < 0 {
			bad(key+".weight", "must not be negative")
		}
	}
	return errs
}

func validHostPort(a string) error {
	host := a
	if h, p, err := splitHostPort(a); err == nil {
		host = h
		if p == "" {
			return errors.New("empty port")
		}
	}
	if host == "" || strings.ContainsAny(host, " /@;") {
		return errors.New("want host or host:port")
	}
	return nil
}

// splitHostPort accepts host, host:port and [v6]:port.
func splitHostPort(a string) (host, port string, err error) {
	if ap, err := netip.ParseAddrPort(a); err == nil {
		return ap.Addr().String(), fmt.Sprint(ap.Port()), nil
	}
	if i := strings.LastIndexByte(a, ':'); i >= 0 && !strings.Contains(a[:i], ":") {
		return a[:i], a[i+1:], nil
	}
	return a, "", errors.New("no port")
}

// RoutingTable converts the file's gateways and routes for routing.New;
// self is the address that "self" stands for.
func (c *Config) RoutingTable(self string) ([]routing.Gateway, []routing.Route) {
	gws := make([]routing.Gateway, 0, len(c.Gateways))
	for _, g := range c.Gateways {
		addr := g.Address
		if addr == SelfAddress {
			addr = self
		}
		gws = append(gws, routing.Gateway{Name: g.Name, Address: addr, MaxChannels: g.MaxChannels, Probe: g.ProbePolicy(),
			Sites: g.Sites, SiteCosts: g.SiteCosts})
	}
	routes := make([]routing.Route, 0, len(c.Routes))
	for _, r := range c.Routes {
		w := r.Weight
		if w == 0 {
			w = 1
		}
		var windows []routing.Window
		for _, rw := range r.Windows {
			if win, err := rw.Window(); err == nil { // Validate reported the others
				windows = append(windows, win)
			}
		}
		routes = append(routes, routing.Route{Prefix: r.Prefix, Gateway: r.Gateway, Cost: r.Cost, Weight: w,
			Sites: r.Sites, SiteCosts: r.SiteCosts, Windows: windows})
	}
	return gws, routes
}
