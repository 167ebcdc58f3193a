package interop

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(runHelper())
	}
	code := m.Run()
	Cleanup()
	os.Exit(code)
}

func TestArgs(t *testing.T) {
	a, err := PeerOptions{
		Send: "in.tif", Caller: true, Remote: "127.0.0.1:4000", Version: 3, ECM: true,
		Redundancy: 3, Loss: 10, Seed: 7, Compress: []Compression{MH, MMR}, Repeat: RepeatNew,
		Timeout: 1500 * time.Millisecond,
	}.Args()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(a, " ")
	want := "--send in.tif --caller --local 127.0.0.1:0 --remote 127.0.0.1:4000 --version 3 --ecm 1 " +
		"--redundancy 3 --loss 10 --seed 7 --compressions mh,mmr --repeat new --timeout 2"
	if got != want {
		t.Errorf("args\n got %s\nwant %s", got, want)
	}
	for _, bad := range []PeerOptions{
		{},
		{Send: "a", Receive: "b"},
		{Send: "a", Version: 4},
		{Send: "a", Redundancy: 5},
		{Send: "a", Caller: true},
	} {
		if _, err := bad.Args(); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

// TestPeerRejectsBadFlags checks that the C program validates its input
// rather than running a call with nonsense settings.
func TestPeerRejectsBadFlags(t *testing.T) {
	bin := BuildPeer(t)
	ctx := context.Background()
	for _, o := range []PeerOptions{
		{Receive: "x.tif", Local: "127.0.0.1:99999"},
		{Receive: "x.tif", Local: "not-an-address"},
		{Receive: "x.tif", MaxDatagram: 10},
	} {
		if p, err := StartPeer(ctx, bin, o); err == nil {
			res, werr := p.Wait()
			t.Errorf("%+v: started (result %+v, %v)", o, res, werr)
		}
	}
}

func TestMakeTestTIFF(t *testing.T) {
	bin := BuildPeer(t)
	NeedTool(t, "tiffcmp", "libtiff-tools")
	ctx := context.Background()
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	for _, c := range []Compression{MH, MR, MMR, "none"} {
		if err := MakeTestTIFF(ctx, bin, p(string(c)+".tif"), TIFFOptions{Pages: 3, Compression: c}); err != nil {
			t.Fatal(err)
		}
	}
	// The same pixels whatever the storage coding...
	for _, c := range []string{"mh", "mr", "none"} {
		if err := CompareTIFF(ctx, p("mmr.tif"), p(c+".tif")); err != nil {
			t.Errorf("mmr vs %s: %v", c, err)
		}
	}
	// ...and the comparison does see a different seed, a missing page and a changed page.
	if err := MakeTestTIFF(ctx, bin, p("seed2.tif"), TIFFOptions{Pages: 3, Seed: 2}); err != nil {
		t.Fatal(err)
	}
	if err := MakeTestTIFF(ctx, bin, p("two.tif"), TIFFOptions{Pages: 2}); err != nil {
		t.Fatal(err)
	}
	for _, other := range []string{"seed2.tif", "two.tif"} {
		if err := CompareTIFF(ctx, p("mmr.tif"), p(other)); !errors.Is(err, ErrPagesDiffer) {
			t.Errorf("mmr vs %s: got %v, want ErrPagesDiffer", other, err)
		}
	}
}

// pairCase is one spandsp-to-spandsp call.
type pairCase struct {
	name       string
	version    int
	ecm        bool
	redundancy int
	fec        bool
	loss       int
	pages      int
	compress   []Compression
	repeat     Repeat
	wantEnc    int
	seed       uint64
}

// TestSpandspPair proves the peer itself: two t38peer processes, one sending
// and one receiving, over real UDP on loopback in real time. Every value of
// every axis appears at least once; the lossy cases must actually recover
// packets through redundancy or FEC.
func TestSpandspPair(t *testing.T) {
	bin := BuildPeer(t)
	NeedTool(t, "tiffcmp", "libtiff-tools")
	cases := []pairCase{
		{name: "v0-nonECM-red0-MR", version: 0, pages: 3, wantEnc: EncodingMR},
		{name: "v3-ECM-red3-loss10", version: 3, ecm: true, redundancy: 3, loss: 10, pages: 2, wantEnc: EncodingMMR},
		{name: "v0-ECM-red3", version: 0, ecm: true, redundancy: 3, pages: 1, wantEnc: EncodingMMR},
		{name: "v3-nonECM-red0-MH", version: 3, pages: 1, compress: []Compression{MH}, wantEnc: EncodingMH},
		{name: "v0-nonECM-red3-loss10-repeatnew", version: 0, redundancy: 3, loss: 10, pages: 2, repeat: RepeatNew, wantEnc: EncodingMR},
		{name: "v3-ECM-FEC-loss10-MR", version: 3, ecm: true, fec: true, redundancy: 3, loss: 10, pages: 1, compress: []Compression{MH, MR}, wantEnc: EncodingMR},
	}
	for i := range cases {
		cases[i].seed = uint64(100 + i)
	}
	t.Parallel()
	Concurrent(t, cases, func(c pairCase) string { return c.name }, func(t *testing.T, c pairCase) {
		runPair(t, bin, c)
	})
}

func runPair(t *testing.T, bin string, c pairCase) {
	seed := c.seed
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.tif"), filepath.Join(dir, "out.tif")
	if err := MakeTestTIFF(ctx, bin, in, TIFFOptions{Pages: c.pages, Seed: seed}); err != nil {
		t.Fatal(err)
	}
	base := PeerOptions{
		Version: c.version, ECM: c.ecm, Redundancy: c.redundancy, FEC: c.fec, Loss: c.loss,
		Compress: c.compress, Repeat: c.repeat, Timeout: 3 * time.Minute,
	}
	snd, rcv := base, base
	snd.Send, snd.Caller, snd.Ident, snd.Seed = in, true, "SENDER", seed
	rcv.Receive, rcv.Ident, rcv.Seed = out, "RECEIVER", seed+1
	rs, rr, err := RunPair(ctx, bin, snd, rcv)
	t.Logf("sender   %+v", rs)
	t.Logf("receiver %+v", rr)
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, "sender", rs, c.pages, "RECEIVER", c.ecm, c.wantEnc)
	checkResult(t, "receiver", rr, c.pages, "SENDER", c.ecm, c.wantEnc)
	if err := CompareTIFF(ctx, in, out); err != nil {
		t.Error(err)
	}
	if c.loss > 0 {
		for _, r := range []struct {
			who    string
			tx, rx Result
		}{{"sender→receiver", rs, rr}, {"receiver→sender", rr, rs}} {
			if r.tx.UDPTL.TxDropped == 0 {
				t.Errorf("%s: %d%% loss dropped nothing", r.who, c.loss)
			}
			if r.rx.UDPTL.RxRecovered+r.rx.UDPTL.RxRepaired == 0 {
				t.Errorf("%s: no IFP recovered by error correction (%+v)", r.who, r.rx.UDPTL)
			}
		}
	}
}

func checkResult(t *testing.T, who string, r Result, pages int, remote string, ecm bool, enc int) {
	t.Helper()
	var bad []string
	if r.Pages != pages {
		bad = append(bad, fmt.Sprintf("pages %d, want %d", r.Pages, pages))
	}
	if r.RemoteIdent != remote {
		bad = append(bad, fmt.Sprintf("remote ident %q, want %q", r.RemoteIdent, remote))
	}
	if r.ECM != ecm {
		bad = append(bad, fmt.Sprintf("ECM %v, want %v", r.ECM, ecm))
	}
	if r.Encoding != enc {
		bad = append(bad, fmt.Sprintf("encoding %d, want %d", r.Encoding, enc))
	}
	if !slices.Contains([]int{2400, 4800, 7200, 9600, 12000, 14400}, r.BitRate) {
		bad = append(bad, fmt.Sprintf("bit rate %d", r.BitRate))
	}
	if len(bad) > 0 {
		t.Errorf("%s: %s", who, strings.Join(bad, "; "))
	}
}
