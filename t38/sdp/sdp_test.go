package sdp

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// crlf turns a readable multi-line sample into a CRLF body.
func crlf(s string) []byte {
	s = strings.TrimLeft(s, "\n")
	return []byte(strings.ReplaceAll(s, "\n", "\r\n"))
}

// Offers in the styles different gateways and PBXes write them. Written
// for these tests from the attribute conventions each is known for.
var t38Samples = []struct {
	name string
	body string
	want T38Params
}{
	{"asterisk re-invite: audio declined, bare booleans absent", `
v=0
o=- 1762378200 1762378202 IN IP4 198.51.100.7
s=Asterisk
c=IN IP4 198.51.100.7
t=0 0
m=audio 0 RTP/AVP 0
m=image 4390 udptl t38
a=T38FaxVersion:0
a=T38MaxBitRate:14400
a=T38FaxRateManagement:transferredTCF
a=T38FaxMaxDatagram:400
a=T38FaxUdpEC:t38UDPRedundancy
`, T38Params{Version: 0, MaxBitRate: 14400, RateManagement: TransferredTCF, MaxDatagram: 400, UDPEC: ECRedundancy, Port: 4390, Addr: "198.51.100.7"}},
	{"freeswitch: bare FillBitRemoval, MaxBuffer", `
v=0
o=FreeSWITCH 1762370000 1762370001 IN IP4 203.0.113.20
s=FreeSWITCH
c=IN IP4 203.0.113.20
t=0 0
m=image 23456 udptl t38
a=T38FaxVersion:0
a=T38MaxBitRate:9600
a=T38FaxFillBitRemoval
a=T38FaxRateManagement:transferredTCF
a=T38FaxMaxBuffer:2000
a=T38FaxMaxDatagram:400
a=T38FaxUdpEC:t38UDPRedundancy
`, T38Params{MaxBitRate: 9600, FillBitRemoval: true, RateManagement: TransferredTCF, MaxBuffer: 2000, MaxDatagram: 400, UDPEC: ECRedundancy, Port: 23456, Addr: "203.0.113.20"}},
	{"cisco ios: booleans with :0, media-level c=", `
v=0
o=CiscoSystemsSIP-GW-UserAgent 4711 2 IN IP4 10.20.30.40
s=SIP Call
c=IN IP4 10.20.30.40
t=0 0
m=image 17878 udptl t38
c=IN IP4 10.20.30.41
a=T38FaxVersion:0
a=T38MaxBitRate:14400
a=T38FaxFillBitRemoval:0
a=T38FaxTranscodingMMR:0
a=T38FaxTranscodingJBIG:0
a=T38FaxRateManagement:transferredTCF
a=T38FaxMaxBuffer:200
a=T38FaxMaxDatagram:320
`, T38Params{MaxBitRate: 14400, RateManagement: TransferredTCF, MaxBuffer: 200, MaxDatagram: 320, UDPEC: ECNone, Port: 17878, Addr: "10.20.30.41"}},
	{"audiocodes: version 3, V.34 rate, FEC", `
v=0
o=AudiocodesGW 1180 42 IN IP4 192.0.2.50
s=Phone-Call
c=IN IP4 192.0.2.50
t=0 0
m=image 6000 udptl t38
a=T38FaxVersion:3
a=T38MaxBitRate:33600
a=T38FaxRateManagement:transferredTCF
a=T38FaxMaxBuffer:3000
a=T38FaxMaxDatagram:122
a=T38FaxUdpEC:t38UDPFEC
a=T38FaxTranscodingMMR:1
`, T38Params{Version: 3, MaxBitRate: 33600, TranscodingMMR: true, RateManagement: TransferredTCF, MaxBuffer: 3000, MaxDatagram: 122, UDPEC: ECFEC, Port: 6000, Addr: "192.0.2.50"}},
	{"patton-style aliases and lower case, LF only", `
v=0
o=- 5 6 IN IP4 192.0.2.99
s=-
c=IN IP4 192.0.2.99
t=0 0
m=image 5004 UDPTL T38
a=t38faxversion:1
a=T38FaxMaxRate:14400
a=T38MaxDatagram:238
a=t38faxratemanagement:LOCALTCF
a=T38FaxFillBitRemoval:1
a=T38FaxTranscodingJBIG:false
a=T38FaxUdpEC:t38udpredundancy
`, T38Params{Version: 1, MaxBitRate: 14400, FillBitRemoval: true, RateManagement: LocalTCF, MaxDatagram: 238, UDPEC: ECRedundancy, Port: 5004, Addr: "192.0.2.99"}},
	{"minimal: only rate management, bad numbers ignored", `
v=0
o=- 1 1 IN IP6 2001:db8::1
s=-
c=IN IP6 2001:db8::1
t=0 0
m=image 40000 udptl t38
a=T38FaxRateManagement:transferredTCF
a=T38FaxMaxDatagram:lots
a=T38FaxUdpEC:somethingElse
a=T38FaxMaxIFP:40
`, T38Params{RateManagement: TransferredTCF, UDPEC: ECNone, Port: 40000, Addr: "2001:db8::1"}},
}

func TestParseT38Samples(t *testing.T) {
	for _, tc := range t38Samples {
		t.Run(tc.name, func(t *testing.T) {
			body := crlf(tc.body)
			if strings.Contains(tc.name, "LF only") {
				body = []byte(strings.TrimLeft(tc.body, "\n"))
			}
			s, err := Parse(body)
			if err != nil {
				t.Fatal(err)
			}
			got, idx, err := s.T38()
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("T38 =\n %+v\nwant\n %+v", got, tc.want)
			}
			if s.Media[idx].Type != "image" {
				t.Errorf("index %d is %s", idx, s.Media[idx].Type)
			}
			// Writing the parsed session and reading it again changes nothing.
			again, err := Parse(s.Marshal())
			if err != nil {
				t.Fatalf("reparse: %v\n%s", err, s.Marshal())
			}
			if !reflect.DeepEqual(again, s) {
				t.Errorf("round trip differs:\n%+v\n%+v", s, again)
			}
		})
	}
}

func TestAudioOfferWithTelephoneEvent(t *testing.T) {
	body := crlf(`
v=0
o=root 1821 1821 IN IP4 192.0.2.10
s=call
c=IN IP4 192.0.2.10
b=CT:384
t=0 0
m=audio 16384 RTP/AVP 8 0 18 101
b=AS:64
a=rtpmap:8 PCMA/8000
a=rtpmap:18 G729/8000
a=fmtp:18 annexb=no
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=ptime:20
a=sendrecv
`)
	s, err := Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.T38(); !errors.Is(err, ErrNotT38) {
		t.Fatalf("T38 on audio-only: %v", err)
	}
	i := s.FindMedia("audio")
	if i != 0 {
		t.Fatalf("FindMedia = %d", i)
	}
	got := s.Media[i].RTPMaps()
	want := []RTPMap{
		{PT: 8, Encoding: "PCMA", ClockRate: 8000},
		{PT: 0, Encoding: "PCMU", ClockRate: 8000}, // static, no rtpmap line
		{PT: 18, Encoding: "G729", ClockRate: 8000, Fmtp: "annexb=no"},
		{PT: 101, Encoding: "telephone-event", ClockRate: 8000, Fmtp: "0-15"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("RTPMaps = %+v", got)
	}
	out := string(s.Marshal())
	for _, l := range []string{"b=CT:384\r\nt=0 0\r\n", "m=audio 16384 RTP/AVP 8 0 18 101\r\nb=AS:64\r\na=rtpmap:8 PCMA/8000\r\n"} {
		if !strings.Contains(out, l) {
			t.Errorf("Marshal lost order around %q:\n%s", l, out)
		}
	}
}

func TestMarshalFaxOffer(t *testing.T) {
	s := &Session{
		Origin: Origin{Username: "faxd", SessionID: "42", SessionVersion: 1, Addr: "192.0.2.1"},
		Name:   "faxd",
		Addr:   "192.0.2.1",
		Media: []Media{
			AudioMedia(0, "", 0, PCMU),
			T38Params{Version: 0, MaxBitRate: 14400, RateManagement: TransferredTCF, MaxBuffer: 1800, MaxDatagram: 400, UDPEC: ECRedundancy, Port: 5002}.Media(),
		},
	}
	want := "v=0\r\n" +
		"o=faxd 42 1 IN IP4 192.0.2.1\r\n" +
		"s=faxd\r\n" +
		"c=IN IP4 192.0.2.1\r\n" +
		"t=0 0\r\n" +
		"m=audio 0 RTP/AVP 0\r\n" +
		"a=rtpmap:0 PCMU/8000\r\n" +
		"a=sendrecv\r\n" +
		"m=image 5002 udptl t38\r\n" +
		"a=T38FaxVersion:0\r\n" +
		"a=T38MaxBitRate:14400\r\n" +
		"a=T38FaxRateManagement:transferredTCF\r\n" +
		"a=T38FaxMaxBuffer:1800\r\n" +
		"a=T38FaxMaxDatagram:400\r\n" +
		"a=T38FaxUdpEC:t38UDPRedundancy\r\n"
	if got := string(s.Marshal()); got != want {
		t.Errorf("Marshal =\n%s\nwant\n%s", got, want)
	}
	flags := T38Params{Version: 3, FillBitRemoval: true, TranscodingMMR: true, TranscodingJBIG: true, Port: 1, UDPEC: ECNone}.Media()
	var names []string
	for _, a := range flags.Attrs {
		names = append(names, a.String())
	}
	if got := strings.Join(names, " "); got != "T38FaxVersion:3 T38FaxFillBitRemoval T38FaxTranscodingMMR T38FaxTranscodingJBIG T38FaxRateManagement:transferredTCF" {
		t.Errorf("attrs = %s", got)
	}
}

func TestParseErrors(t *testing.T) {
	for _, body := range []string{
		"",
		"o=- 1 1 IN IP4 1.2.3.4\r\n",
		"v=1\r\n",
		"v=0\r\nv=0\r\n",
		"v=0\r\nnonsense\r\n",
		"v=0\r\nm=image\r\n",
		"v=0\r\nm=image x udptl t38\r\n",
		"v=0\r\nm=image 70000 udptl t38\r\n",
		"v=0\r\no=- 1 x IN IP4 1.2.3.4\r\n",
		"v=0\r\nc=IN IP4\r\n",
		"v=0\r\nc=XX IP4 1.2.3.4\r\n",
		"v=0\r\n1=2\r\n",
	} {
		if _, err := Parse([]byte(body)); !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) err = %v", body, err)
		}
	}
}

func TestAnswer(t *testing.T) {
	local := T38Params{Version: 3, MaxBitRate: 14400, FillBitRemoval: false, TranscodingMMR: true,
		RateManagement: TransferredTCF, MaxBuffer: 1800, MaxDatagram: 320, UDPEC: ECFEC, Port: 5000, Addr: "192.0.2.1"}
	tests := []struct {
		name  string
		offer T38Params
		local T38Params
		want  T38Params
	}{
		{"v0 redundancy offer",
			T38Params{Version: 0, MaxBitRate: 9600, RateManagement: TransferredTCF, MaxDatagram: 400, UDPEC: ECRedundancy, Port: 4000},
			local,
			T38Params{Version: 0, MaxBitRate: 9600, RateManagement: TransferredTCF, MaxBuffer: 1800, MaxDatagram: 320, UDPEC: ECRedundancy, Port: 5000, Addr: "192.0.2.1"}},
		{"v3 FEC offer, we allow FEC; only MMR shared; rate from us when unstated",
			T38Params{Version: 3, FillBitRemoval: true, TranscodingMMR: true, TranscodingJBIG: true, RateManagement: LocalTCF, UDPEC: ECFEC, Port: 4000},
			local,
			T38Params{Version: 3, MaxBitRate: 14400, TranscodingMMR: true, RateManagement: TransferredTCF, MaxBuffer: 1800, MaxDatagram: 320, UDPEC: ECFEC, Port: 5000, Addr: "192.0.2.1"}},
		{"FEC offered, we only do redundancy",
			T38Params{Version: 2, MaxBitRate: 33600, UDPEC: ECFEC, Port: 4000},
			T38Params{Version: 0, UDPEC: ECRedundancy, MaxDatagram: 400, Port: 5000},
			T38Params{Version: 0, MaxBitRate: 33600, RateManagement: TransferredTCF, MaxDatagram: 400, UDPEC: ECRedundancy, Port: 5000}},
		{"no EC offered",
			T38Params{Version: 4, MaxBitRate: 14400, UDPEC: ECNone, Port: 4000},
			local,
			T38Params{Version: 3, MaxBitRate: 14400, RateManagement: TransferredTCF, MaxBuffer: 1800, MaxDatagram: 320, UDPEC: ECNone, Port: 5000, Addr: "192.0.2.1"}},
		{"we allow no EC",
			T38Params{UDPEC: ECRedundancy, Port: 4000},
			T38Params{UDPEC: ECNone, Port: 5000},
			T38Params{RateManagement: TransferredTCF, UDPEC: ECNone, Port: 5000}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Answer(tc.offer, tc.local)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Answer =\n %+v\nwant\n %+v", got, tc.want)
			}
		})
	}
}

func TestAnswerRejected(t *testing.T) {
	s, err := Parse(crlf(`
v=0
o=- 1 2 IN IP4 192.0.2.7
s=-
c=IN IP4 192.0.2.7
t=0 0
m=audio 8000 RTP/AVP 0
m=image 0 udptl t38
`))
	if err != nil {
		t.Fatal(err)
	}
	offer, idx, err := s.T38()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Answer(offer, T38Params{Port: 5000}); !errors.Is(err, ErrRejected) {
		t.Fatalf("port-0 offer: err = %v", err)
	}
	offer.Port = 4000
	if _, err := Answer(offer, T38Params{Port: 0}); !errors.Is(err, ErrRejected) {
		t.Fatalf("declining: err = %v", err)
	}
	r := Rejected(s.Media[idx])
	ans := &Session{Addr: "192.0.2.1", Media: []Media{AudioMedia(9000, "", 20, PCMU), r}}
	if !strings.Contains(string(ans.Marshal()), "\r\nm=image 0 udptl t38\r\n") {
		t.Fatalf("rejected line missing:\n%s", ans.Marshal())
	}
	if m := (T38Params{Port: 0, Version: 3}).Media(); len(m.Attrs) != 0 {
		t.Fatalf("port-0 media has attributes %v", m.Attrs)
	}
}

func FuzzParse(f *testing.F) {
	for _, tc := range t38Samples {
		f.Add(crlf(tc.body))
	}
	f.Add([]byte("v=0\r\nm=audio 1 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=fmtp:0 x\r\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := Parse(body)
		if err != nil {
			return
		}
		out := s.Marshal()
		s2, err := Parse(out)
		if err != nil {
			t.Fatalf("cannot reparse our own output: %v\n%q\nfrom %q", err, out, body)
		}
		out2 := s2.Marshal()
		if string(out) != string(out2) {
			t.Fatalf("Marshal not stable:\n%q\n%q", out, out2)
		}
		for i := range s.Media {
			_ = s.Media[i].RTPMaps()
			if s.Media[i].IsT38() {
				p := ParseT38(&s.Media[i])
				m := p.Media()
				if p.Port != 0 {
					if q := ParseT38(&m); q != p {
						t.Fatalf("T38 params do not survive Media(): %+v vs %+v", p, q)
					}
				}
			}
		}
	})
}

// V.152: a=gpmd:<pt> vbd=yes marks a payload as voice-band data; what
// AudioMedia writes must read back the same, and an offer written by
// another implementation (extra parameters, PCMU without rtpmap) parses.
func TestVBDGpmd(t *testing.T) {
	vbdPCMA := PCMA
	vbdPCMA.VBD = true
	m := AudioMedia(4000, "192.0.2.1", 20, vbdPCMA, PCMU)
	s := &Session{Origin: Origin{Username: "-", SessionID: "1", SessionVersion: 1, Addr: "192.0.2.1"}, Name: "-", Addr: "192.0.2.1", Media: []Media{m}}
	out := string(s.Marshal())
	if !strings.Contains(out, "a=gpmd:8 vbd=yes\r\n") || strings.Contains(out, "a=gpmd:0") {
		t.Fatalf("Marshal gpmd:\n%s", out)
	}
	back, err := Parse([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := back.Media[0].RTPMaps(), []RTPMap{vbdPCMA, PCMU}; !reflect.DeepEqual(got, want) {
		t.Errorf("round trip RTPMaps = %+v, want %+v", got, want)
	}

	offer, err := Parse(crlf(`
v=0
o=gw 5 5 IN IP4 192.0.2.20
s=-
c=IN IP4 192.0.2.20
t=0 0
m=audio 30000 RTP/AVP 0 8
a=gpmd:0 vbd=YES;foo=bar
a=gpmd:8 vbd=no
`))
	if err != nil {
		t.Fatal(err)
	}
	got := offer.Media[0].RTPMaps()
	if len(got) != 2 || !got[0].VBD || got[1].VBD {
		t.Errorf("offered gpmd RTPMaps = %+v, want PCMU vbd, PCMA not", got)
	}
}
