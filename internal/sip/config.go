// Package sip is faxd's SIP call control on github.com/emiago/sipgo: a user
// agent that places fax calls to IP gateways and answers theirs, negotiates
// T.38 (directly or after an audio phase with a re-INVITE in either
// direction) and hands the channel a ready media description. See docs/sip.md.
package sip

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"github.com/faxd/faxd/t38/sdp"
	"net/netip"
	"os"
	"time"
)

// Config is the SIP section of faxd's configuration.
type Config struct {
	// ListenUDP, ListenTCP and ListenTLS are host:port to listen on; empty
	// disables that transport. TLS needs TLSCert and TLSKey.
	ListenUDP string `yaml:"listen_udp"`
	ListenTCP string `yaml:"listen_tcp"`
	ListenTLS string `yaml:"listen_tls"`
	TLSCert   string `yaml:"tls_cert"`
	TLSKey    string `yaml:"tls_key"`
	// TLSCA is a PEM bundle of the certificate authorities trusted for
	// calls we place over TLS (gateways with a private CA); empty trusts
	// the system's roots.
	TLSCA string `yaml:"tls_ca"`

	// PublicHost is the address put in Via, Contact and SDP c= lines. It is
	// required when a listen address is a wildcard.
	PublicHost string `yaml:"public_host"`
	// UserAgent is the User-Agent / Server header value.
	UserAgent string `yaml:"user_agent"`

	// MediaBind is the local address media sockets bind; MediaPortMin and
	// MediaPortMax bound the RTP/UDPTL port range.
	MediaBind    string `yaml:"media_bind"`
	MediaPortMin int    `yaml:"media_port_min"`
	MediaPortMax int    `yaml:"media_port_max"`

	// AllowFrom lists the CIDRs (or single addresses) whose requests are
	// accepted; every other source gets 403 unless the request belongs to a
	// call we placed. Empty refuses all inbound calls.
	AllowFrom []string `yaml:"allow_from"`
	// OptionsFromUnknown is what an OPTIONS from outside AllowFrom gets:
	// "reject" (403, the default) or "drop" (no answer at all, so that a
	// scanner learns nothing).
	OptionsFromUnknown string `yaml:"options_from_unknown"`
	// InboundAuth, when set, challenges inbound INVITEs with digest (401).
	InboundAuth *Credentials `yaml:"inbound_auth"`

	// RingTimeout is how long an outbound call may ring before we CANCEL
	// (no answer). InviteTimeout is how long we wait for any response to an
	// INVITE before declaring the gateway unreachable (RFC 3261 Timer B is
	// 32 s; gateways answer 100 Trying at once).
	RingTimeout   time.Duration `yaml:"ring_timeout"`
	InviteTimeout time.Duration `yaml:"invite_timeout"`
	// ReinviteAfter is how long a call answered in audio waits for the far
	// end's re-INVITE to T.38 before sending its own.
	ReinviteAfter time.Duration `yaml:"reinvite_after"`
	// RetryAfter is the Retry-After of the 503 sent while draining or on standby.
	RetryAfter time.Duration `yaml:"retry_after"`
	// OverflowRedirect: an INVITE this node cannot take (every inbound
	// channel busy, standby, draining) is answered 302 Moved Temporarily
	// with the Contact of another live node that has a free inbound
	// channel, when there is one; else 486 or 503 as before.
	OverflowRedirect bool `yaml:"overflow_redirect"`

	// T.38 parameters we offer and accept (T.38 Annex D / sdp.T38Params).
	// T38Version is the highest T.38 version we offer and accept (0-3;
	// the far end's lower version wins).
	T38Version         int    `yaml:"t38_version"`
	T38MaxBitRate      int    `yaml:"t38_max_bit_rate"`
	T38MaxBuffer       int    `yaml:"t38_max_buffer"`
	T38MaxDatagram     int    `yaml:"t38_max_datagram"`
	T38ErrorCorrection string `yaml:"t38_error_correction"` // "redundancy" (default), "fec" or "none"
	// Codecs is the preference order of the audio phase: PCMU, PCMA.
	Codecs []string `yaml:"codecs"`
}

// Credentials are a digest username and password. The password is never
// logged: Credentials prints as the username only.
type Credentials struct {
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	Realm    string `yaml:"realm"` // inbound only; default "faxd"
	// Proxy (inbound only) challenges with 407 Proxy-Authenticate instead of 401.
	Proxy bool `yaml:"proxy"`
}

// String hides the password from %v and slog.
func (c Credentials) String() string { return "Credentials{" + c.Username + ", ***}" }

// LogValue hides the password from slog.
func (c Credentials) LogValue() string { return c.String() }

// Defaults fills zero fields with working values.
func (c *Config) Defaults() {
	if c.UserAgent == "" {
		c.UserAgent = "faxd"
	}
	if c.MediaBind == "" {
		c.MediaBind = "0.0.0.0"
	}
	if c.MediaPortMin == 0 && c.MediaPortMax == 0 {
		c.MediaPortMin, c.MediaPortMax = 20000, 29999
	}
	if c.RingTimeout == 0 {
		c.RingTimeout = 60 * time.Second
	}
	if c.InviteTimeout == 0 {
		c.InviteTimeout = 32 * time.Second
	}
	if c.ReinviteAfter == 0 {
		c.ReinviteAfter = 3 * time.Second
	}
	if c.RetryAfter == 0 {
		c.RetryAfter = 60 * time.Second
	}
	if c.T38MaxBitRate == 0 {
		c.T38MaxBitRate = 14400
	}
	if c.T38MaxBuffer == 0 {
		c.T38MaxBuffer = 2000
	}
	if c.T38MaxDatagram == 0 {
		c.T38MaxDatagram = 400
	}
	if c.T38ErrorCorrection == "" {
		c.T38ErrorCorrection = "redundancy"
	}
	if len(c.Codecs) == 0 {
		c.Codecs = []string{"PCMU", "PCMA"}
	}
	if c.OptionsFromUnknown == "" {
		c.OptionsFromUnknown = "reject"
	}
}

// Validate reports every problem, keyed by the yaml name.
func (c *Config) Validate() error {
	var errs []error
	if c.ListenUDP == "" && c.ListenTCP == "" && c.ListenTLS == "" {
		errs = append(errs, errors.New("sip: one of listen_udp, listen_tcp, listen_tls is required"))
	}
	if c.ListenTLS != "" && (c.TLSCert == "" || c.TLSKey == "") {
		errs = append(errs, errors.New("sip.listen_tls: tls_cert and tls_key are required"))
	}
	if c.TLSCA != "" {
		if _, err := c.clientTLS(); err != nil {
			errs = append(errs, fmt.Errorf("sip.tls_ca: %w", err))
		}
	}
	for _, a := range []string{c.ListenUDP, c.ListenTCP, c.ListenTLS} {
		if a == "" {
			continue
		}
		ap, err := netip.ParseAddrPort(a)
		if err != nil {
			errs = append(errs, fmt.Errorf("sip: listen address %q: %w", a, err))
			continue
		}
		if ap.Addr().IsUnspecified() && c.PublicHost == "" {
			errs = append(errs, fmt.Errorf("sip.public_host: required when listening on %s", a))
		}
	}
	if _, err := parseAllow(c.AllowFrom); err != nil {
		errs = append(errs, fmt.Errorf("sip.allow_from: %w", err))
	}
	if c.MediaPortMin < 1024 || c.MediaPortMax > 65535 || c.MediaPortMin > c.MediaPortMax {
		errs = append(errs, fmt.Errorf("sip.media_port_min/max: bad range %d-%d", c.MediaPortMin, c.MediaPortMax))
	}
	for _, name := range c.Codecs {
		if _, ok := codecByName(name); !ok {
			errs = append(errs, fmt.Errorf("sip.codecs: unknown codec %q (PCMU, PCMA)", name))
		}
	}
	switch c.OptionsFromUnknown {
	case "reject", "drop", "":
	default:
		errs = append(errs, fmt.Errorf("sip.options_from_unknown: %q is not reject or drop", c.OptionsFromUnknown))
	}
	if c.T38Version < 0 || c.T38Version > sdp.MaxT38Version {
		errs = append(errs, fmt.Errorf("sip.t38_version: %d: must be from 0 to %d", c.T38Version, sdp.MaxT38Version))
	}
	switch c.T38ErrorCorrection {
	case "redundancy", "fec", "none":
	default:
		errs = append(errs, fmt.Errorf("sip.t38_error_correction: %q is not redundancy, fec or none", c.T38ErrorCorrection))
	}
	return errors.Join(errs...)
}

func parseAllow(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a CIDR nor an address", s)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// clientTLS is the TLS configuration of calls we place: TLS 1.2 or newer,
// verified against TLSCA or the system's roots.
func (c *Config) clientTLS() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.TLSCA == "" {
		return tc, nil
	}
	pem, err := os.ReadFile(c.TLSCA)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", c.TLSCA)
	}
	tc.RootCAs = pool
	return tc, nil
}
