package api

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Problem is an RFC 9457 problem details object, the body of every error
// answer (Content-Type application/problem+json).
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	// Errors lists every problem of a request that has several (one per
	// bad field), each naming its field.
	Errors []string `json:"errors,omitempty"`
}

// Problem types: "urn:faxd:problem:" plus a slug docs/api.md explains.
const problemPrefix = "urn:faxd:problem:"

var titles = map[string]string{
	"invalid-request":       "The request is invalid",
	"invalid-number":        "The fax number is invalid",
	"unauthorized":          "Authentication required",
	"forbidden":             "Not allowed for this token",
	"not-found":             "Not found",
	"method-not-allowed":    "Method not allowed",
	"conflict":              "Conflict",
	"idempotency-conflict":  "Idempotency key reused for a different fax",
	"state-conflict":        "Not possible in the fax's current state",
	"too-large":             "Upload too large",
	"unsupported-document":  "Unsupported document type",
	"unprocessable":         "The document cannot be rendered",
	"refused-address":       "The URL names an address faxd does not call",
	"unsupported-media":     "Unsupported request body",
	"rate-limited":          "Too many requests",
	"unavailable":           "Service unavailable",
	"internal":              "Internal server error",
	"not-acceptable-format": "Format not available",
	"gone":                  "Deleted",
}

func newProblem(status int, slug, detail string, a ...any) *Problem {
	if len(a) > 0 {
		detail = fmt.Sprintf(detail, a...)
	}
	return &Problem{Type: problemPrefix + slug, Title: titles[slug], Status: status, Detail: detail}
}

func (p *Problem) Error() string { return p.Title + ": " + p.Detail }

func writeProblem(w http.ResponseWriter, p *Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
