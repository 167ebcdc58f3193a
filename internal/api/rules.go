package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/faxd/faxd/internal/audit"
	"github.com/faxd/faxd/internal/inbound"
	"github.com/faxd/faxd/internal/secretbox"
)

// Inbound rules are internal/inbound's: its Store validates and keeps them
// and its Router matches them, so the API shows exactly what routing does.

// InboundRule is an inbound rule as the API shows it. The webhook secret
// is write-only: HasSecret says whether one is stored.
type InboundRule struct {
	ID          int64             `json:"id"`
	Priority    int               `json:"priority"`
	Number      inbound.Match     `json:"number"`
	Caller      inbound.Match     `json:"caller"`
	TSI         inbound.Match     `json:"tsi"`
	Pages       inbound.PagesCond `json:"pages"`
	Destination DestinationView   `json:"destination"`
	Description string            `json:"description"`
	Enabled     bool              `json:"enabled"`
	CreatedAt   time.Time         `json:"created_at"`
	UpdatedAt   time.Time         `json:"updated_at"`
}

// DestinationView is a destination without its secret.
type DestinationView struct {
	Kind      inbound.DestKind `json:"kind"`
	Mailbox   string           `json:"mailbox,omitempty"`
	Emails    []string         `json:"emails,omitempty"`
	URL       string           `json:"url,omitempty"`
	HasSecret bool             `json:"has_secret"`
}

// DestinationInput is a destination in a request body (rules, reroutes).
type DestinationInput struct {
	Kind    inbound.DestKind `json:"kind"`
	Mailbox string           `json:"mailbox"`
	Emails  []string         `json:"emails"`
	URL     string           `json:"url"`
	Secret  string           `json:"secret"`
}

func (d DestinationInput) destination() inbound.Destination {
	return inbound.Destination{Kind: d.Kind, Mailbox: d.Mailbox, Emails: d.Emails, URL: d.URL, Secret: d.Secret}
}

// RuleInput is the body of inbound rule create and update. On update, a
// webhook destination without a secret keeps the stored one.
type RuleInput struct {
	Priority *int          `json:"priority"`
	Number   inbound.Match `json:"number"`
	Caller   inbound.Match `json:"caller"`
	TSI      inbound.Match `json:"tsi"`
	// Pages is some (the default), none or any.
	Pages       inbound.PagesCond `json:"pages"`
	Destination DestinationInput  `json:"destination"`
	Description string            `json:"description"`
	Enabled     *bool             `json:"enabled"`
}

// defaultRulePriority leaves room on both sides for later rules.
const defaultRulePriority = 100

func (in RuleInput) rule() inbound.Rule {
	r := inbound.Rule{Priority: defaultRulePriority, Number: in.Number, Caller: in.Caller, TSI: in.TSI, Pages: in.Pages,
		Destination: in.Destination.destination(), Description: in.Description}
	if in.Priority != nil {
		r.Priority = *in.Priority
	}
	if in.Enabled != nil {
		r.Disabled = !*in.Enabled
	}
	return r
}

func viewDestination(d inbound.Destination) DestinationView {
	return DestinationView{Kind: d.Kind, Mailbox: d.Mailbox, Emails: d.Emails, URL: d.URL, HasSecret: d.Secret != ""}
}

func viewRule(r inbound.Rule) InboundRule {
	return InboundRule{ID: r.ID, Priority: r.Priority, Number: r.Number, Caller: r.Caller, TSI: r.TSI, Pages: r.Pages,
		Destination: viewDestination(r.Destination), Description: r.Description, Enabled: !r.Disabled,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// inboundErr maps internal/inbound's errors to problems.
func inboundErr(err error) error {
	var ve *inbound.ValidationError
	switch {
	case errors.As(err, &ve):
		msg := ve.Field + ": " + ve.Message
		p := newProblem(http.StatusBadRequest, "invalid-request", "%s", msg)
		p.Errors = []string{msg}
		return p
	case errors.Is(err, inbound.ErrNotFound):
		return newProblem(http.StatusNotFound, "not-found", "there is no %s", strings.TrimPrefix(err.Error(), inbound.ErrNotFound.Error()+": "))
	case errors.Is(err, secretbox.ErrNoKey):
		return noKeyProblem()
	}
	return err
}

func (a *API) listRules(w http.ResponseWriter, r *http.Request, c *caller) error {
	rs, err := a.rules.List(r.Context())
	if err != nil {
		return err
	}
	out := make([]InboundRule, 0, len(rs))
	for _, ru := range rs {
		out = append(out, viewRule(ru))
	}
	writeJSON(w, http.StatusOK, map[string]any{"inbound_rules": out})
	return nil
}

func (a *API) createRule(w http.ResponseWriter, r *http.Request, c *caller) error {
	var in RuleInput
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	if err := checkNotSealed("destination.secret", &in.Destination.Secret); err != nil {
		return err
	}
	if err := a.checkDestination(in.Destination); err != nil {
		return err
	}
	var ru inbound.Rule
	err := a.audited(r, c, func(tx pgx.Tx) (audit.Change, error) {
		var err error
		ru, err = a.rules.WithTx(tx).Create(r.Context(), in.rule())
		return audit.Change{Action: "create", ObjectType: audit.InboundRule, ObjectID: strconv.FormatInt(ru.ID, 10), After: viewRule(ru)}, err
	})
	if err != nil {
		return inboundErr(err)
	}
	a.log.Info("inbound rule created", "rule", ru.ID, "by", c.Name)
	w.Header().Set("Location", "/v1/inbound-rules/"+strconv.FormatInt(ru.ID, 10))
	writeJSON(w, http.StatusCreated, viewRule(ru))
	return nil
}

func (a *API) getRule(w http.ResponseWriter, r *http.Request, c *caller) error {
	id, err := pathID(r, "id", "inbound rule")
	if err != nil {
		return err
	}
	ru, err := a.rules.Get(r.Context(), id)
	if err != nil {
		return inboundErr(err)
	}
	writeJSON(w, http.StatusOK, viewRule(ru))
	return nil
}

func (a *API) updateRule(w http.ResponseWriter, r *http.Request, c *caller) error {
	id, err := pathID(r, "id", "inbound rule")
	if err != nil {
		return err
	}
	var in RuleInput
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	if err := checkNotSealed("destination.secret", &in.Destination.Secret); err != nil {
		return err
	}
	if err := a.checkDestination(in.Destination); err != nil {
		return err
	}
	ru := in.rule()
	ru.ID = id
	err = a.audited(r, c, func(tx pgx.Tx) (audit.Change, error) {
		st := a.rules.WithTx(tx)
		before, err := st.Get(r.Context(), id)
		if err != nil {
			return audit.Change{}, err
		}
		if ru, err = st.Update(r.Context(), ru); err != nil {
			return audit.Change{}, err
		}
		detail := ""
		if in.Destination.Secret != "" {
			detail = "webhook secret changed" // the values are never recorded
		}
		return audit.Change{Action: "update", ObjectType: audit.InboundRule, ObjectID: strconv.FormatInt(id, 10),
			Before: viewRule(before), After: viewRule(ru), Detail: detail}, nil
	})
	if err != nil {
		return inboundErr(err)
	}
	a.log.Info("inbound rule updated", "rule", ru.ID, "by", c.Name)
	writeJSON(w, http.StatusOK, viewRule(ru))
	return nil
}

func (a *API) deleteRule(w http.ResponseWriter, r *http.Request, c *caller) error {
	id, err := pathID(r, "id", "inbound rule")
	if err != nil {
		return err
	}
	err = a.audited(r, c, func(tx pgx.Tx) (audit.Change, error) {
		st := a.rules.WithTx(tx)
		before, err := st.Get(r.Context(), id)
		if err == nil {
			err = st.Delete(r.Context(), id)
		}
		return audit.Change{Action: "delete", ObjectType: audit.InboundRule, ObjectID: strconv.FormatInt(id, 10), Before: viewRule(before)}, err
	})
	if err != nil {
		return inboundErr(err)
	}
	a.log.Info("inbound rule deleted", "rule", id, "by", c.Name)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
