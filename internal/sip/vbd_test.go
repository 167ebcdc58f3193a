package sip

import (
	"slices"
	"strings"
	"testing"
)

// TestVBDOfferAndParse: with VBD our audio offer marks every payload
// voice-band data (a=gpmd:<pt> vbd=yes) and without it marks none; an
// offer's marks are read per payload so the answer can echo the one it picks.
func TestVBDOfferAndParse(t *testing.T) {
	u := goldenUA()
	for _, vbd := range []bool{false, true} {
		body := u.audioBody(fixedDialog(u, 42), 20000, u.codecs(), vbd)
		if got := strings.Contains(string(body), "a=gpmd:"); got != vbd {
			t.Fatalf("vbd=%v: offer has gpmd %v:\n%s", vbd, got, body)
		}
		desc, err := parseSDP(body)
		if err != nil {
			t.Fatal(err)
		}
		for _, pt := range desc.audioPTs {
			if desc.vbd(pt) != vbd {
				t.Errorf("vbd=%v: payload %d read back as %v", vbd, pt, desc.vbd(pt))
			}
		}
	}

	desc, err := parseSDP([]byte("v=0\r\no=gw 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n" +
		"m=audio 30000 RTP/AVP 8 0\r\na=rtpmap:8 PCMA/8000\r\na=gpmd:8 vbd=yes\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(desc.audioPTs, []uint8{8, 0}) || !desc.vbd(8) || desc.vbd(0) {
		t.Fatalf("offer PTs %v, vbd(8)=%v vbd(0)=%v; want [8 0], true, false", desc.audioPTs, desc.vbd(8), desc.vbd(0))
	}
}
