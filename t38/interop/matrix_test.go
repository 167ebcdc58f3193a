package interop

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faxd/faxd/t38/bilevel"
	"github.com/faxd/faxd/t38/t30"
)

// The interoperability matrix: our stack against spandsp over real UDP on
// loopback in real time. Every value of every axis, and every pair of
// values of any two axes, appears in at least one case (pairwise
// coverage); the full product would be 120 calls of half a minute each.

type direction int

const (
	usToSpandsp direction = iota // we call and send, spandsp answers and receives
	spandspToUs                  // spandsp calls and sends, we answer and receive
)

type errorControl int

const (
	red0       errorControl = iota // no redundancy, no loss
	red3Loss5                      // redundancy 3, 5% random loss both ways
	red3Loss10                     // redundancy 3, 10% random loss both ways
	fecLoss10                      // parity FEC (3 entries, span 3), 10% loss both ways: extra cases only
)

type matrixCase struct {
	dir     direction
	version int
	ecm     bool
	coding  t30.Coding
	ec      errorControl
	pages   int
	maxDG   int // T38FaxMaxDatagram of both ends; 0: 400
}

func (c matrixCase) name() string {
	d := map[direction]string{usToSpandsp: "us-to-spandsp", spandspToUs: "spandsp-to-us"}[c.dir]
	e := map[bool]string{true: "ECM", false: "nonECM"}[c.ecm]
	k := map[t30.Coding]string{t30.CodingMH: "MH", t30.CodingMR: "MR", t30.CodingMMR: "MMR"}[c.coding]
	r := map[errorControl]string{red0: "red0", red3Loss5: "red3-loss5", red3Loss10: "red3-loss10", fecLoss10: "fec-loss10"}[c.ec]
	n := fmt.Sprintf("%s/v%d/%s/%s/%s/%dp", d, c.version, e, k, r, c.pages)
	if c.maxDG > 0 {
		n += fmt.Sprintf("/dgram%d", c.maxDG)
	}
	return n
}

// matrixAxes lists the values of each axis, in case-field order.
var matrixAxes = [][]int{
	{int(usToSpandsp), int(spandspToUs)},
	{0, 3},
	{0, 1},
	{int(t30.CodingMH), int(t30.CodingMR), int(t30.CodingMMR)},
	{int(red0), int(red3Loss5), int(red3Loss10)},
	{1, 3},
}

func caseOf(v []int) matrixCase {
	return matrixCase{dir: direction(v[0]), version: v[1], ecm: v[2] == 1, coding: t30.Coding(v[3]),
		ec: errorControl(v[4]), pages: v[5]}
}

// valid excludes impossible combinations: T.6 (MMR) exists only with ECM.
func valid(v []int) bool { return !(t30.Coding(v[3]) == t30.CodingMMR && v[2] == 0) }

// pairwise picks, greedily and deterministically, full combinations until
// every valid pair of values of two axes is covered.
func pairwise(axes [][]int, ok func([]int) bool) [][]int {
	var all [][]int
	var walk func(prefix []int)
	walk = func(prefix []int) {
		if len(prefix) == len(axes) {
			if ok(prefix) {
				all = append(all, append([]int(nil), prefix...))
			}
			return
		}
		for _, v := range axes[len(prefix)] {
			walk(append(prefix, v))
		}
	}
	walk(nil)
	type pair struct{ i, vi, j, vj int }
	need := map[pair]bool{}
	for _, c := range all {
		for i := range c {
			for j := i + 1; j < len(c); j++ {
				need[pair{i, c[i], j, c[j]}] = true
			}
		}
	}
	var picked [][]int
	for len(need) > 0 {
		best, bestN := -1, 0
		for k, c := range all {
			n := 0
			for i := range c {
				for j := i + 1; j < len(c); j++ {
					if need[pair{i, c[i], j, c[j]}] {
						n++
					}
				}
			}
			if n > bestN {
				best, bestN = k, n
			}
		}
		c := all[best]
		for i := range c {
			for j := i + 1; j < len(c); j++ {
				delete(need, pair{i, c[i], j, c[j]})
			}
		}
		picked = append(picked, c)
	}
	return picked
}

// extraCases go beyond the axes: parity FEC both ways, which only
// some peers accept, so it is not a matrix axis but is proven here; and
// T.38 v3 with both ends' T38FaxMaxDatagram at 160 (a common gateway
// limit: small IFPs, redundancy cut to fit) under 5% loss, both ways.
var extraCases = []matrixCase{
	{dir: usToSpandsp, version: 3, ecm: true, coding: t30.CodingMMR, ec: fecLoss10, pages: 1},
	{dir: spandspToUs, version: 0, ecm: false, coding: t30.CodingMR, ec: fecLoss10, pages: 1},
	{dir: usToSpandsp, version: 3, ecm: true, coding: t30.CodingMMR, ec: red3Loss5, pages: 1, maxDG: 160},
	{dir: spandspToUs, version: 3, ecm: true, coding: t30.CodingMR, ec: red3Loss5, pages: 1, maxDG: 160},
}

func matrixCases() []matrixCase {
	var cs []matrixCase
	for _, v := range pairwise(matrixAxes, valid) {
		cs = append(cs, caseOf(v))
	}
	return append(cs, extraCases...)
}

// TestMatrixCoversAllPairs checks the case list itself: every valid pair of
// axis values is in some case, no case is invalid, and the list stays small
// enough to run in parallel in CI.
func TestMatrixCoversAllPairs(t *testing.T) {
	picked := pairwise(matrixAxes, valid)
	if len(picked) > 14 {
		t.Errorf("%d cases: too many for CI", len(picked))
	}
	seen := map[[4]int]bool{}
	for _, c := range picked {
		if !valid(c) {
			t.Errorf("invalid case %v", c)
		}
		for i := range c {
			for j := i + 1; j < len(c); j++ {
				seen[[4]int{i, c[i], j, c[j]}] = true
			}
		}
	}
	for i := range matrixAxes {
		for j := i + 1; j < len(matrixAxes); j++ {
			for _, vi := range matrixAxes[i] {
				for _, vj := range matrixAxes[j] {
					// A pair is required if some valid combination holds it.
					if !pairPossible(i, vi, j, vj) {
						continue
					}
					if !seen[[4]int{i, vi, j, vj}] {
						t.Errorf("pair axis%d=%d axis%d=%d not covered", i, vi, j, vj)
					}
				}
			}
		}
	}
	for _, c := range matrixCases() {
		t.Log(c.name())
	}
}

func pairPossible(i, vi, j, vj int) bool {
	// Only the MMR-needs-ECM rule removes pairs: (ECM off, MMR).
	return !((i == 2 && vi == 0 && j == 3 && vj == int(t30.CodingMMR)) ||
		(i == 3 && vi == int(t30.CodingMMR) && j == 2 && vj == 0))
}

// TestMatrix runs every matrix case at once. A case passes only when both
// ends report success and tiffcmp -t finds the received pages identical to
// the sent ones.
func TestMatrix(t *testing.T) {
	bin := BuildPeer(t)
	NeedTool(t, "tiffcmp", "libtiff-tools")
	t.Parallel()
	cases := matrixCases()
	Concurrent(t, cases, matrixCase.name, func(t *testing.T, c matrixCase) {
		runMatrixCase(t, bin, c)
	})
}

func codings(c t30.Coding) ([]Compression, t30.Codings) {
	switch c {
	case t30.CodingMH:
		return []Compression{MH}, t30.SupportMH
	case t30.CodingMR:
		return []Compression{MH, MR}, t30.SupportMH | t30.SupportMR
	}
	return []Compression{MH, MR, MMR}, t30.AllCodings
}

func runMatrixCase(t *testing.T, bin string, c matrixCase) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.tif"), filepath.Join(dir, "out.tif")
	seed := uint64(len(c.name())*7919 + c.version*31 + c.pages)
	if err := MakeTestTIFF(ctx, bin, in, TIFFOptions{Pages: c.pages, Seed: seed}); err != nil {
		t.Fatal(err)
	}
	peerComp, ourComp := codings(c.coding)
	red := 0
	if c.ec != red0 {
		red = 3
	}
	loss := 0
	switch c.ec {
	case red3Loss5:
		loss = 5
	case red3Loss10, fecLoss10:
		loss = 10
	}
	fec := c.ec == fecLoss10
	peer := PeerOptions{
		Version: c.version, ECM: c.ecm, Redundancy: red, FEC: fec, Loss: loss, RxLoss: loss, Seed: seed,
		Compress: peerComp, Ident: "SPANDSP", Timeout: 3 * time.Minute, MaxDatagram: c.maxDG,
	}
	ours := ourOptions{Ident: "FAXD", Version: c.version, ECM: c.ecm, Codings: ourComp, Redundancy: red, FEC: fec,
		MaxDatagram: c.maxDG}
	or, pr, err := callOurs(ctx, bin, c.dir, in, out, peer, ours)
	t.Logf("spandsp %+v", pr)
	if or.Result != nil {
		t.Logf("ours    %+v; wire %+v; call %v", *or.Result, or.Wire, or.Call)
	}
	if err != nil {
		t.Fatal(err)
	}
	var bad []string
	if !or.Result.OK() {
		bad = append(bad, "our result: "+or.Result.Error())
	}
	if or.Result.Pages != c.pages {
		bad = append(bad, fmt.Sprintf("we counted %d pages, want %d", or.Result.Pages, c.pages))
	}
	if or.Result.RemoteIdent != "SPANDSP" {
		bad = append(bad, fmt.Sprintf("we saw remote ident %q", or.Result.RemoteIdent))
	}
	checkResult(t, "spandsp", pr, c.pages, "FAXD", c.ecm, int(c.coding))
	stats := or.Sent
	if c.dir == spandspToUs {
		stats = nil
		for _, rp := range or.Received {
			stats = append(stats, rp.Stats)
		}
	}
	for _, st := range stats {
		if st.Coding != c.coding || st.ECM != c.ecm {
			bad = append(bad, fmt.Sprintf("our page %d: coding %d ECM %v, want %d %v", st.Page, st.Coding, st.ECM, c.coding, c.ecm))
		}
	}
	if len(bad) > 0 {
		t.Error(strings.Join(bad, "; "))
	}
	if err := CompareTIFF(ctx, in, out); err != nil {
		t.Error(err)
	}
	if loss > 0 {
		if heavy := map[direction]int{usToSpandsp: pr.UDPTL.RxDropped, spandspToUs: pr.UDPTL.TxDropped}[c.dir]; heavy == 0 {
			t.Errorf("%d%% loss dropped none of the image data (%+v)", loss, pr.UDPTL)
		}
		// The receiver of the image data (hundreds of datagrams) must have
		// recovered some of what was dropped; the few datagrams going the
		// other way may lose only repeat copies, which need no recovery.
		switch u := or.Wire.UDPTL; {
		case c.dir == usToSpandsp && pr.UDPTL.RxRecovered+pr.UDPTL.RxRepaired == 0:
			t.Errorf("the peer's UDPTL recovered nothing from ours (%+v)", pr.UDPTL)
		case c.dir == usToSpandsp && fec && pr.UDPTL.RxRepaired == 0:
			t.Errorf("the peer repaired nothing from our FEC (%+v)", pr.UDPTL)
		case c.dir == spandspToUs && u.Recovered == 0:
			t.Errorf("our UDPTL recovered nothing from the peer's (%+v)", u)
		case c.dir == spandspToUs && fec && u.Repaired == 0:
			t.Errorf("our UDPTL repaired nothing from the peer's FEC (%+v)", u)
		}
	}
}

// callOurs runs one call between our stack and a spandsp peer. For
// usToSpandsp our side sends the pages of in (decoded by libtiff) and the
// peer writes out; for spandspToUs the peer sends in and our received pages
// are written to out with libtiff. Errors from both ends are joined.
func callOurs(ctx context.Context, bin string, dir direction, in, out string, peer PeerOptions, ours ourOptions) (ourResult, Result, error) {
	var or ourResult
	var pr Result
	conn, err := listenUDP()
	if err != nil {
		return or, pr, err
	}
	if dir == usToSpandsp {
		pages, err := TIFFToPages(ctx, bin, in)
		if err != nil {
			conn.Close()
			return or, pr, err
		}
		ours.Calling, ours.Pages = true, pages
		peer.Receive, peer.Caller = out, false
	} else {
		ours.Calling, ours.Pages = false, nil
		peer.Send, peer.Caller, peer.Remote = in, true, conn.LocalAddr().String()
	}
	p, err := StartPeer(ctx, bin, peer)
	if err != nil {
		conn.Close()
		return or, pr, err
	}
	or, oerr := runOurs(ctx, conn, p.Addr(), ours)
	pr, perr := p.Wait()
	if oerr != nil {
		oerr = fmt.Errorf("our side: %w", oerr)
	}
	if err := errors.Join(oerr, perr); err != nil {
		return or, pr, err
	}
	if dir == spandspToUs {
		pages := make([]*bilevel.Image, 0, len(or.Received))
		for i, rp := range or.Received {
			if rp.Image == nil {
				return or, pr, fmt.Errorf("received page %d has no image", i)
			}
			pages = append(pages, rp.Image)
		}
		if len(pages) > 0 {
			if err := PagesToTIFF(ctx, bin, out, pages); err != nil {
				return or, pr, err
			}
		}
	}
	return or, pr, nil
}
