package queue

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Class is the failure class of an attempt: it decides whether and when
// the job is tried again.
type Class string

const (
	ClassBusy      Class = "busy"      // the called line was busy
	ClassNoAnswer  Class = "no_answer" // nobody answered
	ClassRoute     Class = "route"     // gateway or route failure (after trying the others)
	ClassProtocol  Class = "protocol"  // fax protocol failure during the call
	ClassPermanent Class = "permanent" // permanent rejection: never retried
)

// Classes lists every failure class.
var Classes = []Class{ClassBusy, ClassNoAnswer, ClassRoute, ClassProtocol, ClassPermanent}

func (c Class) valid() bool {
	for _, k := range Classes {
		if c == k {
			return true
		}
	}
	return false
}

// Duration is a time.Duration written as "90s" in JSON.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want a string like \"90s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Backoff is the retry rule of one failure class: the n-th attempt's
// failure waits min(Max, Initial*Factor^(n-1)), plus up to Jitter of that.
type Backoff struct {
	NoRetry bool     `json:"no_retry,omitempty"`
	Initial Duration `json:"initial,omitempty"`
	Max     Duration `json:"max,omitempty"`
	Factor  float64  `json:"factor,omitempty"`
	Jitter  float64  `json:"jitter,omitempty"` // fraction, 0..1
}

// RetryPolicy maps failure classes to back-off rules.
type RetryPolicy map[Class]Backoff

// DefaultRetryPolicy is the back-off table of docs/queue.md.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{
		ClassBusy:      {Initial: Duration(time.Minute), Max: Duration(10 * time.Minute), Factor: 2, Jitter: 0.1},
		ClassNoAnswer:  {Initial: Duration(5 * time.Minute), Max: Duration(30 * time.Minute), Factor: 2, Jitter: 0.1},
		ClassRoute:     {Initial: Duration(30 * time.Second), Max: Duration(5 * time.Minute), Factor: 2, Jitter: 0.1},
		ClassProtocol:  {Initial: Duration(2 * time.Minute), Max: Duration(15 * time.Minute), Factor: 2, Jitter: 0.1},
		ClassPermanent: {NoRetry: true},
	}
}

// merge returns p with o's entries replacing p's.
func (p RetryPolicy) merge(o RetryPolicy) RetryPolicy {
	out := RetryPolicy{}
	for k, v := range p {
		out[k] = v
	}
	for k, v := range o {
		out[k] = v
	}
	return out
}

// Validate checks every entry.
func (p RetryPolicy) Validate() error {
	for c, b := range p {
		if !c.valid() {
			return fmt.Errorf("%w: unknown failure class %q", ErrInvalidRequest, c)
		}
		if c == ClassPermanent && !b.NoRetry {
			return fmt.Errorf("%w: class %q is never retried", ErrInvalidRequest, c)
		}
		if b.NoRetry {
			continue
		}
		if b.Initial < 0 || b.Max < b.Initial || b.Factor < 1 || b.Jitter < 0 || b.Jitter > 1 {
			return fmt.Errorf("%w: back-off of class %q: want 0 <= initial <= max, factor >= 1, 0 <= jitter <= 1", ErrInvalidRequest, c)
		}
	}
	return nil
}

// Delay is the wait after the attempt-th attempt (1-based) failed with c;
// ok is false when c is not retried.
func (p RetryPolicy) Delay(c Class, attempt int) (d time.Duration, ok bool) {
	b, found := p[c]
	if !found || b.NoRetry {
		return 0, false
	}
	if attempt < 1 {
		attempt = 1
	}
	f := float64(b.Initial) * math.Pow(b.Factor, float64(attempt-1))
	if f > float64(b.Max) || math.IsInf(f, 0) || math.IsNaN(f) {
		f = float64(b.Max)
	}
	if b.Jitter > 0 {
		f += f * b.Jitter * rand.Float64()
	}
	return time.Duration(f), true
}
