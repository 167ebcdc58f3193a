// Package logtail keeps the last bytes a subprocess wrote (sipp, the
// spandsp peer), so that an error about it can quote what it said last
// without holding its whole output.
package logtail

import "sync"

// Buffer is an io.Writer that keeps the last Max bytes; safe for
// concurrent use.
type Buffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

// New keeps the last max bytes.
func New(max int) *Buffer { return &Buffer{max: max} }

func (t *Buffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

// String is what was kept.
func (t *Buffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
