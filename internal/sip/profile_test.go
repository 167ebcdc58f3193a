package sip

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/faxd/faxd/t38/sdp"
)

// A gateway's T.38 profile shapes what we offer, in the first INVITE and
// in our re-INVITE after an audio start; the version agreed is the lower
// of both sides', and the far end's limits come back in the media.
func TestT38ProfilePerCall(t *testing.T) {
	t.Parallel()
	v3, v2 := 3, 2
	for _, tc := range []struct {
		name       string
		calleeVer  int
		calleeEC   string
		profile    T38Profile
		audioFirst bool
		wantVer    int
		wantEC     string
		wantDgram  int // what the callee learns of our receive limit
		wantRate   int
	}{
		{"default", 0, "", T38Profile{}, false, 0, "t38UDPRedundancy", 400, 14400},
		{"v3 both", 3, "fec", T38Profile{Version: &v3, MaxDatagram: 160, ErrorCorrection: "fec"}, false, 3, "t38UDPFEC", 160, 14400},
		{"v3 offered, v2 answered", 2, "", T38Profile{Version: &v3}, false, 2, "t38UDPRedundancy", 400, 14400},
		{"v2 offered to v3", 3, "fec", T38Profile{Version: &v2, ErrorCorrection: "none", MaxBitRate: 9600}, false, 2, "", 400, 9600},
		{"audio first, re-INVITE with the profile", 3, "", T38Profile{Version: &v3, MaxDatagram: 200}, true, 3, "t38UDPRedundancy", 200, 14400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			caller := newTestUA(t, func(c *Config) { c.ReinviteAfter = 300 * time.Millisecond })
			callee := newTestUA(t, func(c *Config) {
				c.T38Version = tc.calleeVer
				c.T38ErrorCorrection = tc.calleeEC
				c.ReinviteAfter = time.Minute
			})
			ans := newAnswering(Accept)
			callee.SetAdmission(ans)
			c, err := caller.Dial(context.Background(), Dial{Target: target(callee, "udp", "4930123"), T38: tc.profile, AudioFirst: tc.audioFirst})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Hangup(context.Background())
			in := waitCall(t, ans)
			defer in.Hangup(context.Background())
			exchange(t, c.Media(), in.Media())
			got, far := c.Media().Params, in.Media().Params
			if got.Version != tc.wantVer || far.Version != tc.wantVer {
				t.Errorf("version: caller %d, callee %d, want %d", got.Version, far.Version, tc.wantVer)
			}
			if tc.wantEC != "" && (got.UDPEC != tc.wantEC || far.UDPEC != tc.wantEC) {
				t.Errorf("error correction: caller %q, callee %q, want %q", got.UDPEC, far.UDPEC, tc.wantEC)
			}
			if tc.wantEC == "" && got.UDPEC != sdp.ECNone {
				t.Errorf("error correction %q, want none", got.UDPEC)
			}
			if far.MaxDatagram != tc.wantDgram {
				t.Errorf("callee learns our max datagram %d, want %d", far.MaxDatagram, tc.wantDgram)
			}
			if got.MaxBitRate != tc.wantRate {
				t.Errorf("max bit rate %d, want %d", got.MaxBitRate, tc.wantRate)
			}
		})
	}
}

func TestT38ProfileValidate(t *testing.T) {
	bad, ok := 4, 1
	if err := (T38Profile{Version: &ok, MaxBitRate: 4800, MaxDatagram: 160, ErrorCorrection: "fec"}).Validate(); err != nil {
		t.Fatal(err)
	}
	err := (T38Profile{Version: &bad, MaxBitRate: 5000, MaxDatagram: 20, ErrorCorrection: "parity"}).Validate()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"t38_version 4", "max_bit_rate 5000", "t38_max_datagram 20", `t38_error_correction "parity"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}
