package render

import (
	"errors"
	"fmt"
)

// Sentinel errors; every error Document returns for a bad document wraps
// exactly one of them, so callers (the submission API) can map them to a
// 4xx answer with errors.Is.
var (
	ErrEmpty        = errors.New("empty document")
	ErrUnknownType  = errors.New("unsupported document type")
	ErrTypeMismatch = errors.New("declared type does not match the content")
	ErrTooLarge     = errors.New("document too large")
	ErrTooManyPages = errors.New("too many pages")
	ErrCorrupt      = errors.New("corrupt document")
	ErrTimeout      = errors.New("document took too long to render")
	ErrResources    = errors.New("document needs too much memory to render")
	// ErrRenderer means the document may be fine but the machinery is not
	// (Ghostscript missing, sandbox helper missing): a server fault, not 4xx.
	ErrRenderer = errors.New("renderer unavailable")
)

// Error describes why a document could not be rendered, in words meant for
// the person who submitted it.
type Error struct {
	Kind   Kind   // what the content was taken to be
	Reason error  // one of the sentinel errors above
	Detail string // a sentence for a person
	Err    error  // underlying cause, if any
}

func (e *Error) Error() string {
	s := e.Kind.String() + " document rejected: " + e.Reason.Error()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap lets errors.Is see both the sentinel and the cause.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Reason, e.Err}
	}
	return []error{e.Reason}
}

func newError(k Kind, reason error, format string, args ...any) *Error {
	return &Error{Kind: k, Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

func wrapError(k Kind, reason error, cause error, format string, args ...any) *Error {
	e := newError(k, reason, format, args...)
	e.Err = cause
	return e
}
