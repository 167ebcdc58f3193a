package t30

import (
	"time"

	"github.com/faxd/faxd/t38/bilevel"
)

// PageInfo is what the engine needs to know about a page before it is
// encoded: its geometry and resolution decide DCS.
type PageInfo struct {
	Width      int // pels: 1728, 2048 or 2432
	Rows       int
	Resolution Resolution
}

// PageFormat is how a page is to be coded on the line.
type PageFormat struct {
	Coding     Coding
	Resolution Resolution
	Width      int  // pels
	K          int  // MR: rows per 1-D row
	ECM        bool // ECM pages carry no fill bits
	MinRowBits int  // non-ECM: zero fill up to this many bits per row
}

// PageSource hands the sender its pages. Encode returns MSB-first T.4/T.6
// data including RTC (T.4) or EOFB (T.6).
type PageSource interface {
	NumPages() int
	PageInfo(n int) (PageInfo, error)
	Encode(n int, f PageFormat) ([]byte, error)
}

// DecodedPage is a page decoded by a PageDecoder.
type DecodedPage struct {
	Image   *bilevel.Image
	Rows    int
	BadRows int
}

// PageDecoder decodes received page data; the receiver uses it to judge
// copy quality (MCF/RTP/RTN) and to return the image.
type PageDecoder interface {
	Decode(data []byte, f PageFormat) (DecodedPage, error)
}

// Tone is a fax tone.
type Tone uint8

const (
	ToneCNG Tone = iota + 1 // calling tone
	ToneCED                 // called station identification
)

// OutputKind tells what an Output asks for.
type OutputKind uint8

const (
	// Transmit outputs: the driver sends them in order and calls TxDone once
	// per transmit output when it has left.
	OutTone   OutputKind = iota + 1 // Tone for Duration
	OutFrames                       // V.21 HDLC burst: Frames (no FCS)
	OutTCF                          // TCF: zeros for Duration on Modem, LongTrain
	OutImage                        // non-ECM page: Data (MSB-first) on Modem
	OutECM                          // ECM block: high-speed HDLC Frames on Modem

	// Events: nothing to transmit.
	OutPhase        // Phase changed
	OutPageSent     // Stats: a page was confirmed by the far end (MCF/RTP/PIP/ERR)
	OutPageReceived // Received: a page was accepted
	OutDone         // Result: the call is over; the driver hangs up
)

// Output is one thing the engine asks its driver to do or tell.
type Output struct {
	Kind      OutputKind
	Tone      Tone
	Duration  time.Duration
	Modem     Modem
	LongTrain bool
	Frames    [][]byte
	Data      []byte
	Phase     Phase
	Stats     *PageStats
	Received  *ReceivedPage
	Result    *Result
}

// Transmit reports whether the driver has to send something (and call
// TxDone when done).
func (o Output) Transmit() bool { return o.Kind >= OutTone && o.Kind <= OutECM }

// ReceivedPage is a page the receiver accepted.
type ReceivedPage struct {
	Format PageFormat
	Data   []byte         // raw coded data, MSB-first (ECM: padded to the frame size)
	Image  *bilevel.Image // nil without a decoder or when decoding failed
	Stats  PageStats
}

// Phase is the T.30 phase.
type Phase uint8

const (
	PhaseA Phase = iota + 1 // call set-up
	PhaseB                  // pre-message procedure: identification, capabilities, training
	PhaseC                  // message transmission
	PhaseD                  // post-message procedure
	PhaseE                  // call release
)

func (p Phase) String() string {
	if p >= PhaseA && p <= PhaseE {
		return string(rune('A' + p - 1))
	}
	return "?"
}
