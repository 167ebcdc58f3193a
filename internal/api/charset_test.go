package api

import (
	"strings"
	"testing"
)

// The charset of a text part reaches the renderer: ISO-8859-1 text is
// accepted, an unknown charset gets 415 naming it.
func TestTextPartCharset(t *testing.T) {
	e := newEnv(t, Config{})
	latin1 := doc{"brief.txt", "text/plain; charset=iso-8859-1", []byte("Gr\xfc\xdfe aus K\xf6ln\n")}
	if r := e.submit(e.sub, `{"to":"0301234567"}`, []doc{latin1}); r.status != 201 {
		t.Fatalf("ISO-8859-1 text: %d %s", r.status, r.body)
	}
	r := e.submit(e.sub, `{"to":"0301234567"}`, []doc{{"brief.txt", "text/plain; charset=x-klingon", []byte("Qapla'\n")}})
	if r.status != 415 {
		t.Fatalf("unknown charset: %d %s", r.status, r.body)
	}
	if p := r.problem(t); !strings.Contains(p.Detail, `charset "x-klingon"`) {
		t.Errorf("detail %q does not name the charset", p.Detail)
	}
}
