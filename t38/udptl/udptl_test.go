package udptl

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/faxd/faxd/t38/ifp"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Datagrams laid out by hand from the UDPTLPacket ASN.1 and the layout
// asterisk, freeswitch and spandsp's udptl.c write (reference notes, 2).
var goldenPackets = []struct {
	name string
	hex  string
	pkt  Packet
}{
	{"first, no redundancy yet", "0000 01 06 00 00",
		Packet{Seq: 0, Primary: []byte{0x06}}},
	{"two secondaries newest first", "0005 01 02 00 02 01 04 01 06",
		Packet{Seq: 5, Primary: []byte{0x02}, Secondary: [][]byte{{0x04}, {0x06}}}},
	{"v21 hdlc octet with three secondaries", "1234 06 c0018000 00ff 00 03 03 c00120 01 1e 02 2000",
		Packet{Seq: 0x1234, Primary: hx("c0018000 00ff"), Secondary: [][]byte{hx("c00120"), {0x1e}, {0x20, 0x00}}}},
	{"max seq", "ffff 01 00 00 00",
		Packet{Seq: 0xffff, Primary: []byte{0}}},
	{"200-octet primary: two-octet length", "0007 80c8 " + strings.Repeat("aa", 200) + " 00 01 80 81 " + strings.Repeat("bb", 129),
		Packet{Seq: 7, Primary: bytes.Repeat([]byte{0xaa}, 200), Secondary: [][]byte{bytes.Repeat([]byte{0xbb}, 129)}}},
	{"fec span 3 entries 2", "0009 01 1c 80 01 03 02 02 0102 01 07",
		Packet{Seq: 9, Primary: []byte{0x1c}, FEC: &FEC{Span: 3, Entries: [][]byte{{1, 2}, {7}}}}},
	{"fec wind-up, nothing yet", "0000 01 04 80 01 00 00",
		Packet{Seq: 0, Primary: []byte{0x04}, FEC: &FEC{}}},
	{"fec span 200", "0001 01 04 80 02 00c8 00",
		Packet{Seq: 1, Primary: []byte{0x04}, FEC: &FEC{Span: 200}}},
}

// hx decodes hex in table literals, where there is no t to fail.
func hx(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

func TestGolden(t *testing.T) {
	for _, g := range goldenPackets {
		t.Run(g.name, func(t *testing.T) {
			want := mustHex(t, g.hex)
			got, err := g.pkt.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Marshal = % x\nwant      % x", got, want)
			}
			if g.pkt.Size() != len(want) {
				t.Errorf("Size = %d, want %d", g.pkt.Size(), len(want))
			}
			var p Packet
			if err := p.Unmarshal(want); err != nil {
				t.Fatal(err)
			}
			if !packetsEqual(&p, &g.pkt) {
				t.Errorf("Unmarshal = %+v, want %+v", p, g.pkt)
			}
		})
	}
}

func packetsEqual(a, b *Packet) bool {
	if a.Seq != b.Seq || !bytes.Equal(a.Primary, b.Primary) || len(a.Secondary) != len(b.Secondary) {
		return false
	}
	for i := range a.Secondary {
		if !bytes.Equal(a.Secondary[i], b.Secondary[i]) {
			return false
		}
	}
	if (a.FEC == nil) != (b.FEC == nil) {
		return false
	}
	if a.FEC != nil {
		if a.FEC.Span != b.FEC.Span || len(a.FEC.Entries) != len(b.FEC.Entries) {
			return false
		}
		for i := range a.FEC.Entries {
			if !bytes.Equal(a.FEC.Entries[i], b.FEC.Entries[i]) {
				return false
			}
		}
	}
	return true
}

func TestUnmarshalErrors(t *testing.T) {
	tests := []struct {
		name, hex string
		want      error
	}{
		{"empty", "", ErrTruncated},
		{"seq only", "0001", ErrTruncated},
		{"primary truncated", "0001 03 c001", ErrTruncated},
		{"empty primary", "0001 00 00 00", ErrMalformed},
		{"no choice", "0001 01 06", ErrTruncated},
		{"no secondary count", "0001 01 06 00", ErrTruncated},
		{"secondary count too big", "0001 01 06 00 05 01 02", ErrTruncated},
		{"secondary truncated", "0001 01 06 00 01 02 01", ErrTruncated},
		{"empty secondary", "0001 01 06 00 01 00 00", ErrMalformed},
		{"trailing", "0001 01 06 00 00 00", ErrTrailing},
		{"trailing after secondaries", "0001 01 06 00 01 01 04 ff", ErrTrailing},
		{"fragmented length", "0001 c1 06 00 00", ErrMalformed},
		{"two-octet length truncated", "0001 80", ErrTruncated},
		{"fec no npackets", "0001 01 06 80", ErrTruncated},
		{"fec npackets length 0", "0001 01 06 80 00 00", ErrMalformed},
		{"fec npackets length 3", "0001 01 06 80 03 00 00 03 00", ErrMalformed},
		{"fec negative span", "0001 01 06 80 01 ff 00", ErrMalformed},
		{"fec no entry count", "0001 01 06 80 01 03", ErrTruncated},
		{"fec entry truncated", "0001 01 06 80 01 03 01 05 0102", ErrTruncated},
		{"fec too many entries", "0001 01 06 80 01 03 09 01 01", ErrTruncated},
		{"fec trailing", "0001 01 06 80 01 03 01 01 01 00", ErrTrailing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p Packet
			if err := p.Unmarshal(mustHex(t, tc.hex)); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestMarshalErrors(t *testing.T) {
	for _, p := range []Packet{
		{},
		{Primary: []byte{1}, Secondary: [][]byte{{}}},
		{Primary: make([]byte, 16384)},
		{Primary: []byte{1}, FEC: &FEC{Span: -1}},
		{Primary: []byte{1}, FEC: &FEC{Entries: [][]byte{make([]byte, 20000)}}},
	} {
		if _, err := p.Marshal(); !errors.Is(err, ErrMalformed) {
			t.Errorf("Marshal(%d primary, %d sec) err = %v", len(p.Primary), len(p.Secondary), err)
		}
	}
}

// ifpN is a distinct, valid IFP of varying length for sequence number n:
// a v0 t4-non-ecm-data packet.
func ifpN(n int) []byte {
	data := make([]byte, 1+n%50)
	for i := range data {
		data[i] = byte(n*7 + i)
	}
	b, err := ifp.NewData(ifp.V17_14400, ifp.Field{Type: ifp.T4NonECMData, Data: data}).Marshal(0)
	if err != nil {
		panic(err)
	}
	return b
}

// trimIFP cuts an FEC-repaired IFP to its length.
func trimIFP(b []byte) []byte {
	n, err := ifp.Len(b, 0)
	if err != nil {
		return nil
	}
	return b[:n]
}

func TestSenderRedundancyWindUp(t *testing.T) {
	s := NewSender(Config{Redundancy: 3})
	for n := 0; n < 8; n++ {
		d, err := s.Build(ifpN(n))
		if err != nil {
			t.Fatal(err)
		}
		var p Packet
		if err := p.Unmarshal(d); err != nil {
			t.Fatal(err)
		}
		if p.Seq != uint16(n) || !bytes.Equal(p.Primary, ifpN(n)) {
			t.Fatalf("datagram %d: seq %d primary % x", n, p.Seq, p.Primary)
		}
		if want := min(n, 3); len(p.Secondary) != want {
			t.Fatalf("datagram %d: %d secondaries, want %d", n, len(p.Secondary), want)
		}
		for i, sec := range p.Secondary {
			if !bytes.Equal(sec, ifpN(n-1-i)) {
				t.Fatalf("datagram %d secondary %d is not IFP %d", n, i, n-1-i)
			}
		}
		if p.FEC != nil {
			t.Fatal("FEC without being asked")
		}
	}
	if s.Seq() != 8 {
		t.Fatalf("Seq = %d", s.Seq())
	}
}

func TestSenderFarMaxDatagram(t *testing.T) {
	const limit = 60
	s := NewSender(Config{Redundancy: 3, FarMaxDatagram: limit})
	sizes := []int{20, 20, 20, 20, 10, 52}
	var trimmed bool
	for n, size := range sizes {
		ifpb := bytes.Repeat([]byte{byte(n + 1)}, size)
		d, err := s.Build(ifpb)
		if err != nil {
			t.Fatal(err)
		}
		if len(d) > limit {
			t.Fatalf("datagram %d is %d octets, limit %d", n, len(d), limit)
		}
		var p Packet
		if err := p.Unmarshal(d); err != nil {
			t.Fatal(err)
		}
		// Whatever redundancy survives is the newest: a prefix of the list.
		for i, sec := range p.Secondary {
			if sec[0] != byte(n-i) {
				t.Fatalf("datagram %d secondary %d from IFP %d", n, i, sec[0]-1)
			}
		}
		if len(p.Secondary) < min(n, 3) {
			trimmed = true
		}
	}
	if !trimmed {
		t.Fatal("limit never forced trimming; test is not testing it")
	}
	seq := s.Seq()
	if _, err := s.Build(make([]byte, limit)); !errors.Is(err, ErrTooBig) {
		t.Fatalf("oversized IFP: err = %v", err)
	}
	if s.Seq() != seq {
		t.Fatal("failed Build consumed a sequence number")
	}
}

func TestSenderSeqWrap(t *testing.T) {
	s := NewSender(Config{Redundancy: 2, FirstSeq: 0xfffe})
	r := NewReceiver()
	var got []uint16
	for n := 0; n < 5; n++ {
		d, err := s.Build(ifpN(n))
		if err != nil {
			t.Fatal(err)
		}
		if n == 2 {
			continue // lose seq 0: it must come back from redundancy
		}
		out, err := r.Receive(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out {
			got = append(got, o.Seq)
			if want := ifpN(int(o.Seq-0xfffe) & 0xffff); !bytes.Equal(o.IFP, want) {
				t.Fatalf("seq %d carries wrong IFP", o.Seq)
			}
		}
	}
	if want := []uint16{0xfffe, 0xffff, 0, 1, 2}; !reflect.DeepEqual(got, want) {
		t.Fatalf("delivered %v, want %v", got, want)
	}
	if st := r.Stats(); st.Recovered != 1 || st.Lost != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// xorOf computes parity the slow, obvious way.
func xorOf(ifps ...[]byte) []byte {
	var out []byte
	for _, b := range ifps {
		for len(out) < len(b) {
			out = append(out, 0)
		}
		for i, c := range b {
			out[i] ^= c
		}
	}
	return out
}

func TestSenderFEC(t *testing.T) {
	const span, entries = 3, 2
	s := NewSender(Config{FEC: true, FECSpan: span, FECEntries: entries})
	for n := 0; n < 20; n++ {
		d, err := s.Build(ifpN(n))
		if err != nil {
			t.Fatal(err)
		}
		var p Packet
		if err := p.Unmarshal(d); err != nil {
			t.Fatal(err)
		}
		if p.FEC == nil {
			t.Fatalf("datagram %d has no fec-info", n)
		}
		wantSpan, wantEntries := span, entries
		if n < span*entries {
			wantEntries = n / span
			if n < span {
				wantSpan = 0
			}
		}
		if p.FEC.Span != wantSpan || len(p.FEC.Entries) != wantEntries {
			t.Fatalf("datagram %d: span %d entries %d, want %d %d", n, p.FEC.Span, len(p.FEC.Entries), wantSpan, wantEntries)
		}
		for m, e := range p.FEC.Entries {
			var members [][]byte
			for k := 0; k < wantSpan; k++ {
				members = append(members, ifpN(n+m-wantSpan*wantEntries+k*wantEntries))
			}
			if !bytes.Equal(e, xorOf(members...)) {
				t.Fatalf("datagram %d entry %d = % x, want % x", n, m, e, xorOf(members...))
			}
		}
	}
}

func TestSenderFECTooBigDropsParity(t *testing.T) {
	s := NewSender(Config{FEC: true, FarMaxDatagram: 30})
	for n := 0; n < 6; n++ {
		d, err := s.Build(bytes.Repeat([]byte{1}, 20))
		if err != nil {
			t.Fatal(err)
		}
		if len(d) > 30 {
			t.Fatalf("datagram %d: %d octets", n, len(d))
		}
	}
}

func TestSizing(t *testing.T) {
	tests := []struct {
		maxIFP int
		ec     ECMode
		limit  int
		want   int
	}{
		{300, ECNone, 0, 320},      // (5+300)*1.05
		{72, ECRedundancy, 0, 309}, // (5+72+2+216)*1.05
		{72, ECFEC, 0, 160},        // (5+72+4+72)*1.05
		{400, ECRedundancy, 1400, 1400},
	}
	for _, tc := range tests {
		if got := LocalMaxDatagram(tc.maxIFP, tc.ec, tc.limit); got != tc.want {
			t.Errorf("LocalMaxDatagram(%d, %v, %d) = %d, want %d", tc.maxIFP, tc.ec, tc.limit, got, tc.want)
		}
	}
	far := []struct {
		dgram   int
		ec      ECMode
		entries int
		ifp, e  int
	}{
		{400, ECNone, 3, 375, 3},      // (400-5)*0.95
		{400, ECRedundancy, 3, 93, 3}, // (400-8)/4 = 98, *0.95
		{200, ECRedundancy, 3, 91, 1}, // 48 and 64 are under 80: down to 1 entry
		{300, ECRedundancy, 3, 92, 2}, // 292/4 = 73 < 80; 292/3 = 97
		{400, ECFEC, 3, 185, 3},       // (400-10)/2 = 195, *0.95
		{60, ECRedundancy, 3, 24, 1},  // never below one entry
		{3, ECNone, 0, 0, 0},
	}
	for _, tc := range far {
		ifpMax, e := FarMaxIFP(tc.dgram, tc.ec, tc.entries)
		if ifpMax != tc.ifp || e != tc.e {
			t.Errorf("FarMaxIFP(%d, %v, %d) = %d, %d; want %d, %d", tc.dgram, tc.ec, tc.entries, ifpMax, e, tc.ifp, tc.e)
		}
	}
	// The two agree: the far end's largest IFP with our entries fits.
	for _, dg := range []int{160, 200, 320, 400, 1400} {
		m, e := FarMaxIFP(dg, ECRedundancy, 3)
		s := NewSender(Config{Redundancy: e})
		var d []byte
		for n := 0; n <= e; n++ {
			var err error
			if d, err = s.Build(make([]byte, m)); err != nil {
				t.Fatal(err)
			}
		}
		if len(d) > dg {
			t.Errorf("max datagram %d: a full datagram of %d-octet IFPs with %d entries is %d", dg, m, e, len(d))
		}
	}
}

type event struct {
	seq uint16
	ifp []byte
}

func collect(t *testing.T, r *Receiver, dgrams ...[]byte) []event {
	t.Helper()
	var evs []event
	for _, d := range dgrams {
		out, err := r.Receive(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out {
			evs = append(evs, event{o.Seq, o.IFP})
		}
	}
	return evs
}

func seqs(evs []event) []uint16 {
	var s []uint16
	for _, e := range evs {
		s = append(s, e.seq)
	}
	return s
}

func buildAll(t testing.TB, cfg Config, n int) [][]byte {
	t.Helper()
	s := NewSender(cfg)
	var ds [][]byte
	for i := 0; i < n; i++ {
		d, err := s.Build(ifpN(i))
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	return ds
}

func TestReceiverGapFilledOldestFirst(t *testing.T) {
	ds := buildAll(t, Config{Redundancy: 3}, 8)
	r := NewReceiver()
	evs := collect(t, r, ds[0], ds[1], ds[5], ds[6], ds[7]) // 2, 3, 4 lost
	if want := []uint16{0, 1, 2, 3, 4, 5, 6, 7}; !reflect.DeepEqual(seqs(evs), want) {
		t.Fatalf("delivered %v, want %v", seqs(evs), want)
	}
	for _, e := range evs {
		if !bytes.Equal(e.ifp, ifpN(int(e.seq))) {
			t.Fatalf("seq %d: wrong IFP", e.seq)
		}
	}
	if st := r.Stats(); st.Recovered != 3 || st.Lost != 0 || st.Delivered != 8 {
		t.Fatalf("stats %+v", st)
	}
}

func TestReceiverDuplicatesDropped(t *testing.T) {
	ds := buildAll(t, Config{Redundancy: 1}, 4)
	r := NewReceiver()
	evs := collect(t, r, ds[0], ds[0], ds[1], ds[2], ds[1], ds[3], ds[3])
	if want := []uint16{0, 1, 2, 3}; !reflect.DeepEqual(seqs(evs), want) {
		t.Fatalf("delivered %v", seqs(evs))
	}
	if st := r.Stats(); st.Duplicates != 3 {
		t.Fatalf("duplicates %d, want 3", st.Duplicates)
	}
}

func TestReceiverReorderWithoutRedundancy(t *testing.T) {
	ds := buildAll(t, Config{}, 6)
	r := NewReceiver() // depth 3
	evs := collect(t, r, ds[0], ds[2], ds[1], ds[3], ds[5], ds[4])
	if want := []uint16{0, 1, 2, 3, 4, 5}; !reflect.DeepEqual(seqs(evs), want) {
		t.Fatalf("delivered %v", seqs(evs))
	}
	// Depth 1 never waits: a late IFP is dropped and counted.
	r = NewReceiverConfig(ReceiverConfig{ReorderDepth: 1})
	evs = collect(t, r, ds[0], ds[2], ds[1], ds[3])
	if want := []uint16{0, 2, 3}; !reflect.DeepEqual(seqs(evs), want) {
		t.Fatalf("depth 1 delivered %v", seqs(evs))
	}
	if st := r.Stats(); st.Lost != 1 || st.Late != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestReceiverGivesUpAfterDepthAndFlush(t *testing.T) {
	ds := buildAll(t, Config{}, 10)
	r := NewReceiver()
	evs := collect(t, r, ds[0], ds[2], ds[3])
	if want := []uint16{0}; !reflect.DeepEqual(seqs(evs), want) {
		t.Fatalf("delivered %v before depth reached", seqs(evs))
	}
	if r.Held() != 2 {
		t.Fatalf("held %d", r.Held())
	}
	evs = collect(t, r, ds[4]) // 4-1 >= 3: give up on 1
	if want := []uint16{2, 3, 4}; !reflect.DeepEqual(seqs(evs), want) {
		t.Fatalf("delivered %v", seqs(evs))
	}
	evs = collect(t, r, ds[6])
	if len(evs) != 0 {
		t.Fatalf("delivered %v past a fresh gap", seqs(evs))
	}
	var flushed []uint16
	for _, d := range r.Flush() {
		flushed = append(flushed, d.Seq)
	}
	if !reflect.DeepEqual(flushed, []uint16{6}) || r.Held() != 0 {
		t.Fatalf("Flush = %v, held %d", flushed, r.Held())
	}
	if st := r.Stats(); st.Lost != 2 {
		t.Fatalf("lost %d, want 2", st.Lost)
	}
}

func TestReceiverFECRepair(t *testing.T) {
	ds := buildAll(t, Config{FEC: true, FECSpan: 3, FECEntries: 3}, 30)
	r := NewReceiverConfig(ReceiverConfig{ReorderDepth: 1, TrimRepaired: trimIFP})
	lost := map[int]bool{12: true, 20: true, 24: true}
	var in [][]byte
	for i, d := range ds {
		if !lost[i] {
			in = append(in, d)
		}
	}
	evs := collect(t, r, in...)
	if len(evs) != 30 {
		t.Fatalf("delivered %d of 30: %v", len(evs), seqs(evs))
	}
	for i, e := range evs {
		if e.seq != uint16(i) || !bytes.Equal(e.ifp, ifpN(i)) {
			t.Fatalf("position %d: seq %d ifp % x, want % x", i, e.seq, e.ifp, ifpN(i))
		}
	}
	if st := r.Stats(); st.Repaired != 3 || st.Lost != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestReceiverResync(t *testing.T) {
	r := NewReceiver()
	a := buildAll(t, Config{FirstSeq: 100}, 3)
	b := buildAll(t, Config{FirstSeq: 40000}, 2)
	evs := collect(t, r, append(a, b...)...)
	if want := []uint16{100, 101, 102, 40000, 40001}; !reflect.DeepEqual(seqs(evs), want) {
		t.Fatalf("delivered %v", seqs(evs))
	}
	if st := r.Stats(); st.Resyncs != 1 || st.Lost != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// A far end that restarts twice, the second time from the numbers the
// first stream used: the new stream's IFPs are not taken for repeats of
// the old ones still in the ring.
func TestReceiverResyncReusedNumbers(t *testing.T) {
	r := NewReceiver()
	a := buildAll(t, Config{FirstSeq: 0}, 3)
	b := buildAll(t, Config{FirstSeq: 30000}, 2)
	c := buildAll(t, Config{FirstSeq: 0, Redundancy: 2}, 3)
	evs := collect(t, r, a[0], a[1], a[2], b[0], b[1], c[2]) // c[2] carries 0 and 1 as redundancy
	if want := []uint16{0, 1, 2, 30000, 30001, 0, 1, 2}; !reflect.DeepEqual(seqs(evs), want) {
		t.Fatalf("delivered %v, want %v", seqs(evs), want)
	}
	if st := r.Stats(); st.Resyncs != 2 || st.Duplicates != 0 || st.Lost != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestReceiverMalformed(t *testing.T) {
	r := NewReceiver()
	if _, err := r.Receive([]byte{0, 1, 1, 6, 0, 0, 9}); !errors.Is(err, ErrTrailing) {
		t.Fatalf("err = %v", err)
	}
	if st := r.Stats(); st.Malformed != 1 || st.Datagrams != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// channel simulates a lossy, duplicating, reordering network; the same
// seed gives the same run.
func channel(rng *rand.Rand, in [][]byte, loss, dup, swap float64) [][]byte {
	var out [][]byte
	for _, d := range in {
		if rng.Float64() < loss {
			continue
		}
		out = append(out, d)
		if rng.Float64() < dup {
			out = append(out, d)
		}
	}
	for i := 0; i+1 < len(out); i++ {
		if rng.Float64() < swap {
			out[i], out[i+1] = out[i+1], out[i]
			i++
		}
	}
	return out
}

func TestSimulatedChannels(t *testing.T) {
	cases := []struct {
		cfg              Config
		loss, dup, swap  float64
		minDeliveredFrac float64
	}{
		{Config{Redundancy: 3}, 0.10, 0.05, 0.05, 0.99},
		{Config{Redundancy: 3}, 0.30, 0, 0.10, 0.90},
		// Without loss only a swap of the first two datagrams can cost one.
		{Config{Redundancy: 0}, 0, 0.10, 0.20, 0.9996},
		{Config{Redundancy: 0}, 0.10, 0.05, 0.05, 0.85},
		{Config{FEC: true, FECSpan: 3, FECEntries: 3}, 0.05, 0.05, 0.05, 0.98},
	}
	const n = 3000
	for ci, c := range cases {
		for seed := uint64(1); seed <= 20; seed++ {
			name := fmt.Sprintf("case%d/seed%d", ci, seed)
			rng := rand.New(rand.NewPCG(seed, uint64(ci)))
			c.cfg.FirstSeq = uint16(rng.IntN(65536)) // cross the wrap in some runs
			ds := buildAll(t, c.cfg, n)
			r := NewReceiverConfig(ReceiverConfig{TrimRepaired: trimIFP})
			var evs []event
			for _, d := range channel(rng, ds, c.loss, c.dup, c.swap) {
				out, err := r.Receive(d)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				for _, o := range out {
					evs = append(evs, event{o.Seq, o.IFP})
				}
			}
			for _, o := range r.Flush() {
				evs = append(evs, event{o.Seq, o.IFP})
			}
			prev := -1
			for _, e := range evs {
				idx := int(e.seq - c.cfg.FirstSeq)
				if idx <= prev {
					t.Fatalf("%s: IFP %d after %d: out of order or repeated", name, idx, prev)
				}
				if !bytes.Equal(e.ifp, ifpN(idx)) {
					t.Fatalf("%s: IFP %d content wrong", name, idx)
				}
				prev = idx
			}
			st := r.Stats()
			if frac := float64(len(evs)) / n; frac < c.minDeliveredFrac {
				t.Errorf("%s: delivered %.3f, want >= %.3f (stats %+v)", name, frac, c.minDeliveredFrac, st)
			}
			if st.Delivered != uint64(len(evs)) {
				t.Errorf("%s: stats say %d delivered, saw %d", name, st.Delivered, len(evs))
			}
		}
	}
}

func FuzzUnmarshal(f *testing.F) {
	for _, g := range goldenPackets {
		f.Add(mustHex(f, g.hex))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p Packet
		if err := p.Unmarshal(b); err != nil {
			return
		}
		enc, err := p.Marshal()
		if err != nil {
			t.Fatalf("decoded %+v from % x, cannot encode: %v", p, b, err)
		}
		if len(enc) != p.Size() {
			t.Fatalf("Size %d, encoded %d", p.Size(), len(enc))
		}
		var q Packet
		if err := q.Unmarshal(enc); err != nil {
			t.Fatalf("re-decode % x: %v", enc, err)
		}
		if !packetsEqual(&p, &q) {
			t.Fatalf("% x -> %+v -> % x -> %+v", b, p, enc, q)
		}
	})
}

// FuzzReceiver feeds arbitrary datagram sequences: no panics, and what
// comes out is in order without repeats between resyncs.
func FuzzReceiver(f *testing.F) {
	var seed []byte
	for _, d := range buildAll(f, Config{Redundancy: 2}, 5) {
		seed = append(seed, byte(len(d)))
		seed = append(seed, d...)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, stream []byte) {
		r := NewReceiver()
		var last uint16
		have := false
		for len(stream) > 0 {
			n := min(int(stream[0]), len(stream)-1)
			d := stream[1 : 1+n]
			stream = stream[1+n:]
			resyncs := r.Stats().Resyncs
			out, err := r.Receive(d)
			if err != nil {
				continue
			}
			// A resync flushes the old stream then starts the new one in
			// the same output: order holds only within each.
			resynced := r.Stats().Resyncs != resyncs
			for _, o := range out {
				if have && !resynced && int16(o.Seq-last) <= 0 {
					t.Fatalf("seq %d after %d", o.Seq, last)
				}
				last, have = o.Seq, true
			}
			if resynced {
				// The new stream's first IFPs may wait for a later
				// datagram: its order starts afresh there.
				have = false
			}
			if r.Held() > window {
				t.Fatalf("holding %d", r.Held())
			}
		}
	})
}

func BenchmarkSenderBuild(b *testing.B) {
	s := NewSender(Config{Redundancy: 3, FarMaxDatagram: 400})
	ifpb := ifpN(40)
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = s.AppendBuild(buf[:0], ifpb); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSendReceive is one IFP through a redundancy-3 Sender and a
// Receiver (every IFP arrives four times: once primary, three secondary).
func BenchmarkSendReceive(b *testing.B) {
	s := NewSender(Config{Redundancy: 3})
	r := NewReceiver()
	ifpb := ifpN(40)
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = s.AppendBuild(buf[:0], ifpb); err != nil {
			b.Fatal(err)
		}
		out, err := r.Receive(buf)
		if err != nil || len(out) != 1 {
			b.Fatalf("out %d, err %v", len(out), err)
		}
	}
}

// TestSenderRepeat: AppendRepeat gives back the datagram built for a seq,
// byte for byte (same sequence number, same secondaries), for the last 16
// only; it takes no new sequence number.
func TestSenderRepeat(t *testing.T) {
	s := NewSender(Config{Redundancy: 2, FirstSeq: 65530})
	var built [][]byte
	for i := 0; i < 20; i++ {
		d, err := s.Build([]byte{byte(i), 0xAA})
		if err != nil {
			t.Fatal(err)
		}
		built = append(built, d)
	}
	next := s.Seq()
	for back := 1; back <= 16; back++ {
		seq := next - uint16(back)
		d, err := s.AppendRepeat([]byte{0x55}, seq)
		if err != nil {
			t.Fatalf("seq %d: %v", seq, err)
		}
		if want := built[len(built)-back]; !bytes.Equal(d[1:], want) || d[0] != 0x55 {
			t.Fatalf("repeat of %d = %x, want %x", seq, d[1:], want)
		}
	}
	for _, seq := range []uint16{next - 17, next, next + 5} {
		if _, err := s.AppendRepeat(nil, seq); !errors.Is(err, ErrNotKept) {
			t.Fatalf("seq %d: err %v, want ErrNotKept", seq, err)
		}
	}
	if s.Seq() != next {
		t.Fatalf("repeats moved the sequence number to %d", s.Seq())
	}
	if _, err := NewSender(Config{}).AppendRepeat(nil, 65535); !errors.Is(err, ErrNotKept) {
		t.Fatalf("fresh sender: %v", err)
	}
}

// TestReceiverRepeatedDatagrams: copies of a datagram under one sequence
// number (how the end of a transmission is protected) deliver its IFP once;
// a copy fills the gap when the first one was lost, and later copies are
// counted as duplicates, never delivered again.
func TestReceiverRepeatedDatagrams(t *testing.T) {
	for _, red := range []int{0, 3} {
		ds := buildAll(t, Config{Redundancy: red}, 5)
		r := NewReceiver()
		// 0 1 2 arrive; 3 (the end) is lost, its copies arrive; 4 three times.
		evs := collect(t, r, ds[0], ds[1], ds[2], ds[4], ds[3], ds[3], ds[4], ds[4])
		if want := []uint16{0, 1, 2, 3, 4}; !reflect.DeepEqual(seqs(evs), want) {
			t.Fatalf("red %d: delivered %v", red, seqs(evs))
		}
		// With redundancy 3 came from ds[4]'s secondaries first, so its
		// first own copy is a duplicate too.
		dups := uint64(3)
		if red > 0 {
			dups = 4
		}
		if st := r.Stats(); st.Duplicates != dups || st.Lost != 0 || st.Delivered != 5 {
			t.Fatalf("red %d: stats %+v", red, st)
		}
	}
}
