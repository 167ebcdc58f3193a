package t30

import "time"

// Reason says why a call ended. The values are stable: they are stored in
// the queue and the archive and documented in docs/t30.md.
type Reason int

const (
	ReasonOK                   Reason = iota // every page transferred and confirmed
	ReasonT1Expired                          // no valid DIS/DCS exchange within T1 (not a fax, or deaf)
	ReasonT2Expired                          // receiver waited T2 for a command or for data that never came
	ReasonNoResponse                         // a command was sent MaxTries times without a valid answer (T4)
	ReasonT5Expired                          // ECM receiver stayed not-ready (RNR) beyond T5
	ReasonCannotTrain                        // FTT at every speed of the fallback sequence
	ReasonRetriesExhausted                   // a page was rejected (RTN/PIN) more than MaxRTN times
	ReasonRemoteRejected                     // the far end answered DCS with DCN, or sent PIN without a way on
	ReasonDCNUnexpected                      // the far end disconnected (DCN) in the middle of the procedure
	ReasonCallDropped                        // the call or transport went away before the end
	ReasonRemoteCannotReceive                // DIS says the far end cannot receive
	ReasonRemoteCannotTransmit               // we asked to poll but the far end has nothing to send
	ReasonIncompatible                       // no common modem, coding, width or resolution
	ReasonPageTooLong                        // a page is longer than the far end accepts
	ReasonPageSource                         // our own page data could not be produced
	ReasonProtocolError                      // the far end sent something impossible in this state
	ReasonCancelled                          // stopped locally (Abort)
)

var reasonNames = [...]string{"ok", "t1_expired", "t2_expired", "no_response", "t5_expired", "cannot_train",
	"retries_exhausted", "remote_rejected", "dcn_unexpected", "call_dropped", "remote_cannot_receive",
	"remote_cannot_transmit", "incompatible", "page_too_long", "page_source", "protocol_error", "cancelled"}

// String is the stable snake_case name stored with results.
func (r Reason) String() string {
	if r >= 0 && int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "unknown"
}

// Retryable reports whether another attempt of the same fax may succeed.
func (r Reason) Retryable() bool {
	switch r {
	case ReasonOK, ReasonRemoteCannotReceive, ReasonRemoteCannotTransmit, ReasonIncompatible,
		ReasonPageTooLong, ReasonPageSource, ReasonCancelled:
		return false
	}
	return true
}

// PageStats describes one transferred page.
type PageStats struct {
	Page            int // 0-based index in the document (sender) or in the call (receiver)
	Modem           Modem
	BitRate         int
	Coding          Coding
	ECM             bool
	Resolution      Resolution
	Width           int // pels
	Rows            int // rows decoded (receiver with a decoder) or encoded (sender, if known)
	BadRows         int // receiver, non-ECM: rows that failed to decode
	Bytes           int // coded octets of the page
	Retransmissions int // RTN re-sends (non-ECM) or re-sent ECM frames
	PPRs            int // PPR rounds (ECM)
	ECMErrors       bool
	Duration        time.Duration // from first image octet to confirmation
}

// Result is the outcome of a call.
type Result struct {
	Reason      Reason
	Detail      string
	Pages       int // pages confirmed (sender) or accepted (receiver) in this call
	NextPage    int // sender: index of the first page not confirmed (page-level resume)
	RemoteIdent string
	RemoteNSF   []byte
	Stats       []PageStats
}

// OK reports success.
func (r Result) OK() bool { return r.Reason == ReasonOK }

// Error makes a failed Result usable as an error value.
func (r Result) Error() string {
	if r.Detail != "" {
		return "t30: " + r.Reason.String() + ": " + r.Detail
	}
	return "t30: " + r.Reason.String()
}
