package client_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/faxd/faxd/client"
)

// A URL document makes the submission one JSON body: the fax fields at the
// top, files base64 with their type from the extension, the URL as given.
func TestSubmitFaxWithURLIsJSON(t *testing.T) {
	var got map[string]any
	var ct, key string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ct, key = r.Header.Get("Content-Type"), r.Header.Get("Idempotency-Key")
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &got); err != nil {
			t.Errorf("body is not JSON: %v: %s", err, b)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"id":7,"state":"pending","to":"+15550100","pages_total":2}`)
	}))
	defer srv.Close()
	c := newClient(t, client.Options{Servers: []string{srv.URL}, Token: "tok"})
	f, existed, err := c.SubmitFax(context.Background(), client.FaxRequest{To: "+15550100", Header: "ACME"}, []client.Document{
		{Name: "dir/letter.docx", Body: strings.NewReader("docx bytes")},
		{URL: "https://docs.example.com/terms.pdf"},
	}, "k1")
	if err != nil || existed || f.ID != 7 {
		t.Fatalf("SubmitFax: %+v %v %v", f, existed, err)
	}
	if ct != "application/json" || key != "k1" || got["to"] != "+15550100" || got["header"] != "ACME" {
		t.Fatalf("request: %s key %q body %v", ct, key, got)
	}
	docs, _ := got["documents"].([]any)
	if len(docs) != 2 {
		t.Fatalf("documents %v", got["documents"])
	}
	d0, d1 := docs[0].(map[string]any), docs[1].(map[string]any)
	if d0["filename"] != "letter.docx" || d0["data"] != "ZG9jeCBieXRlcw==" ||
		d0["content_type"] != "application/vnd.openxmlformats-officedocument.wordprocessingml.document" {
		t.Fatalf("document 0: %v", d0)
	}
	if d1["url"] != "https://docs.example.com/terms.pdf" || d1["data"] != nil {
		t.Fatalf("document 1: %v", d1)
	}
}
