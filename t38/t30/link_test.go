package t30

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/faxd/faxd/t38/bilevel"
)

// rowCodec is a stand-in page codec for the engine's own tests, so they do
// not depend on T.4: each row is a sync octet pair, the packed row and a
// CRC-32; a damaged or missing row is a bad row. The real codec is
// exercised through the T.38 simulation in t38/sim.
type rowCodec struct{ pages []*bilevel.Image }

func (c *rowCodec) NumPages() int { return len(c.pages) }
func (c *rowCodec) PageInfo(n int) (PageInfo, error) {
	p := c.pages[n]
	r := ResFine
	if p.YDPI == bilevel.YDPIStandard {
		r = ResStandard
	} else if p.YDPI == bilevel.YDPISuperfine {
		r = ResSuperfine
	}
	return PageInfo{Width: p.Width, Rows: p.Height, Resolution: r}, nil
}

var errNoPage = errors.New("no such page")

func (c *rowCodec) Encode(n int, f PageFormat) ([]byte, error) {
	if n >= len(c.pages) {
		return nil, errNoPage
	}
	p := c.pages[n]
	var b bytes.Buffer
	b.Write([]byte{byte(f.Coding), byte(p.Height >> 8), byte(p.Height)})
	for y := 0; y < p.Height; y++ {
		b.Write([]byte{0xA5, 0x5A})
		b.Write(p.Row(y))
		b.Write(crc32.NewIEEE().Sum(p.Row(y))[:4])
		for pad := (p.Stride + 6) * 8; pad < f.MinRowBits; pad += 8 {
			b.WriteByte(0)
		}
	}
	return b.Bytes(), nil
}

func (c *rowCodec) Decode(data []byte, f PageFormat) (DecodedPage, error) {
	if len(data) < 3 || data[0] != byte(f.Coding) {
		return DecodedPage{}, errors.New("bad header")
	}
	want := int(data[1])<<8 | int(data[2])
	stride := (f.Width + 7) / 8
	img := bilevel.New(f.Width, 0)
	rows, bad := 0, 0
	data = data[3:]
	for {
		i := bytes.Index(data, []byte{0xA5, 0x5A})
		if i < 0 {
			break
		}
		data = data[i+2:]
		rows++
		if len(data) < stride+4 {
			bad++
			break
		}
		row, sum := data[:stride], data[stride:stride+4]
		if !bytes.Equal(crc32.NewIEEE().Sum(row)[:4], sum) {
			bad++
			row = make([]byte, stride)
		}
		img.Pix = append(img.Pix, row...)
		img.Height++
		data = data[stride+4:]
	}
	if rows < want {
		bad += want - rows
		rows = want
	}
	return DecodedPage{Image: img, Rows: rows, BadRows: bad}, nil
}

func testPage(rng *rand.Rand, w, h int, res Resolution) *bilevel.Image {
	p := bilevel.New(w, h)
	p.YDPI = [...]int{bilevel.YDPIStandard, bilevel.YDPIFine, bilevel.YDPISuperfine}[res]
	for y := 0; y < h; y++ {
		for x := rng.IntN(w / 2); x < w; x += 1 + rng.IntN(64) {
			for k := 0; k < rng.IntN(12) && x+k < w; k++ {
				p.SetBlack(x+k, y, true)
			}
		}
	}
	return p
}

// link runs two engines against each other at the modem level with a
// virtual clock: each transmit output occupies its sender's line for its
// duration and is delivered to the other side when it ends.
type link struct {
	t        *testing.T
	now      time.Duration
	eng      [2]*Engine
	busy     [2]time.Duration // line busy until
	queue    [2][]Output
	events   []linkEvent
	sent     []*PageStats
	recv     []*ReceivedPage
	mangle   func(from int, o *Output) bool // false: drop the output
	deafFrom time.Duration                  // side 1 goes silent after this (if > 0)
	trace    bytes.Buffer
}

const (
	carrierUp OutputKind = 100 + iota
	dataChunk
)

type linkEvent struct {
	at   time.Duration
	to   int
	o    Output
	done bool // TxDone for side `to`
}

func burstTime(o Output) time.Duration {
	bits := func(n, rate int) time.Duration { return time.Duration(n) * 8 * time.Second / time.Duration(rate) }
	switch o.Kind {
	case OutTone:
		return o.Duration
	case OutFrames:
		n := 0
		for _, f := range o.Frames {
			n += len(f) + 2
		}
		return 1000*time.Millisecond + bits(n, 300)
	case OutTCF:
		return o.Modem.TrainingTime(true) + o.Duration
	case OutImage:
		return o.Modem.TrainingTime(o.LongTrain) + bits(len(o.Data), o.Modem.BitRate())
	case OutECM:
		n := 0
		for _, f := range o.Frames {
			n += len(f) + 2
		}
		return o.Modem.TrainingTime(o.LongTrain) + bits(n, o.Modem.BitRate())
	}
	return 0
}

func (l *link) drain(side int) {
	for _, o := range l.eng[side].Outputs() {
		fmt.Fprintf(&l.trace, "%8v %d %s\n", l.now, side, describe(o))
		switch o.Kind {
		case OutPageSent:
			l.sent = append(l.sent, o.Stats)
		case OutPageReceived:
			l.recv = append(l.recv, o.Received)
		}
		if !o.Transmit() {
			continue
		}
		start := max(l.now, l.busy[side]+75*time.Millisecond)
		end := start + burstTime(o)
		l.busy[side] = end
		keep := l.mangle == nil || l.mangle(side, &o)
		if side == 1 && l.deafFrom > 0 && start >= l.deafFrom {
			keep = false
		}
		if keep {
			if o.Modem != ModemNone {
				l.events = append(l.events, linkEvent{at: start, to: 1 - side, o: Output{Kind: carrierUp, Modem: o.Modem}})
			}
			if o.Kind == OutImage {
				// Stream the page a second at a time, as a modem would.
				step := o.Modem.BitRate() / 8
				at := start + o.Modem.TrainingTime(o.LongTrain)
				for off := 0; off < len(o.Data); off += step {
					at += time.Second
					chunk := o.Data[off:min(off+step, len(o.Data))]
					l.events = append(l.events, linkEvent{at: min(at, end), to: 1 - side, o: Output{Kind: dataChunk, Data: chunk}})
				}
				o = Output{Kind: OutImage}
			}
			l.events = append(l.events, linkEvent{at: end, to: 1 - side, o: o})
		}
		l.events = append(l.events, linkEvent{at: end, to: side, done: true})
	}
}

func describe(o Output) string {
	switch o.Kind {
	case OutFrames:
		s := "frames"
		for _, f := range o.Frames {
			if len(f) > 2 {
				s += " " + FCFName(f[2])
			}
		}
		return s
	case OutTone:
		return fmt.Sprintf("tone %d", o.Tone)
	case OutTCF:
		return "TCF " + o.Modem.String()
	case OutImage:
		return fmt.Sprintf("image %s %d octets", o.Modem, len(o.Data))
	case OutECM:
		return fmt.Sprintf("ecm %s %d frames", o.Modem, len(o.Frames))
	case OutPhase:
		return "phase " + o.Phase.String()
	case OutPageSent:
		return fmt.Sprintf("page sent %d", o.Stats.Page)
	case OutPageReceived:
		return fmt.Sprintf("page received bad=%d", o.Received.Stats.BadRows)
	case OutDone:
		return "done " + o.Result.Error()
	}
	return "?"
}

func (l *link) deliver(ev linkEvent) {
	e := l.eng[ev.to]
	e.Tick(l.now)
	if ev.done {
		e.TxDone()
		return
	}
	o := ev.o
	switch o.Kind {
	case carrierUp:
		e.RxCarrierUp(o.Modem)
	case dataChunk:
		e.RxData(o.Data)
	case OutFrames:
		for _, f := range o.Frames {
			e.RxFrame(f, true)
		}
		e.RxCarrierDown()
	case OutTCF:
		e.RxData(make([]byte, int(o.Duration)*o.Modem.BitRate()/8/int(time.Second)))
		e.RxCarrierDown()
	case OutImage:
		e.RxCarrierDown()
	case OutECM:
		for _, f := range o.Frames {
			e.RxFrame(f, true)
		}
		e.RxCarrierDown()
	}
}

// run drives the link until both ends are done or limit passes.
func (l *link) run(limit time.Duration) {
	l.eng[0].Start(0)
	l.eng[1].Start(0)
	for !(l.eng[0].Done() && l.eng[1].Done()) {
		l.drain(0)
		l.drain(1)
		// next event: earliest delivery or deadline
		next, have := time.Duration(0), false
		for _, ev := range l.events {
			if !have || ev.at < next {
				next, have = ev.at, true
			}
		}
		for _, e := range l.eng {
			if d, ok := e.NextDeadline(); ok && (!have || d < next) {
				next, have = d, true
			}
		}
		if !have || next > limit {
			l.t.Fatalf("link stuck at %v (states %s / %s)\n%s", l.now, l.eng[0].State(), l.eng[1].State(), l.trace.String())
		}
		l.now = max(l.now, next)
		var rest []linkEvent
		var due []linkEvent
		for _, ev := range l.events {
			if ev.at <= l.now {
				due = append(due, ev)
			} else {
				rest = append(rest, ev)
			}
		}
		l.events = rest
		sort.SliceStable(due, func(i, j int) bool { return due[i].at < due[j].at })
		for _, ev := range due {
			l.deliver(ev)
		}
		l.eng[0].Tick(l.now)
		l.eng[1].Tick(l.now)
	}
	l.drain(0)
	l.drain(1)
}
