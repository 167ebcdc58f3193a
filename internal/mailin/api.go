package mailin

import (
	"context"

	"github.com/faxd/faxd/internal/api"
	"github.com/faxd/faxd/internal/api/tokens"
)

// APISubmitter submits through the HTTP API's own path (validation,
// rendering, document store, queue), so a mailed fax is checked exactly
// as a posted one.
type APISubmitter struct{ API *api.API }

// SubmitMail implements Submitter.
func (a APISubmitter) SubmitMail(ctx context.Context, s Submission) (int64, int, error) {
	f, err := a.API.SubmitDocuments(ctx, api.SubmitEmail{
		// The sender's final notice carries the confirmation report.
		Fax:       api.FaxRequest{To: s.To, Metadata: s.Metadata, Report: true},
		Documents: s.Documents, Submitter: s.Submitter, Key: s.Key,
	})
	if detail, ok := api.IsSenderFault(err); ok {
		return 0, 0, &SenderError{Detail: detail}
	}
	if err != nil {
		return 0, 0, err
	}
	return f.ID, f.PagesTotal, nil
}

// Tokens authenticates with API tokens (any user name, the token as the
// password); faxes are submitted as the token's name.
func Tokens(store *tokens.Store) TokenAuth {
	return TokenAuth{Verify: func(ctx context.Context, secret string) (string, error) {
		t, err := store.Authenticate(ctx, secret)
		if err != nil {
			return "", err
		}
		return t.Name, nil
	}}
}
