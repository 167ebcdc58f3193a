// Package audit keeps the audit log of configuration changes: who (the
// API token), when, what (action, object type and id), the object before
// and after as JSON with secrets masked, and from which address. Entries
// are written by the caller inside the transaction that makes the change,
// so a change and its record are committed or lost together.
package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Object types.
const (
	Gateway     = "gateway"
	Route       = "route"
	InboundRule = "inbound_rule"
	Token       = "token"
	Standby     = "standby"
	ReceivedFax = "received_fax"
	Secrets     = "secrets"
	User        = "user"
	Fax         = "fax"
	Delivery    = "delivery"
)

// Masked replaces a secret's value in before/after.
const Masked = "********"

// Entry is one row of the audit log.
type Entry struct {
	ID         int64           `json:"id"`
	At         time.Time       `json:"at"`
	ActorID    int64           `json:"actor_id,omitempty"` // 0: the faxd command line
	Actor      string          `json:"actor"`
	Action     string          `json:"action"`
	ObjectType string          `json:"object_type"`
	ObjectID   string          `json:"object_id"`
	Before     json.RawMessage `json:"before,omitempty"`
	After      json.RawMessage `json:"after,omitempty"`
	RemoteAddr string          `json:"remote_addr"`
	Detail     string          `json:"detail,omitempty"`
}

// Execer is a transaction (or a pool, for changes that are not a single
// database transaction).
type Execer interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}

// Change describes a change to record. Before and After are the object
// as the API shows it (nil: none); they are marshalled and masked.
type Change struct {
	ActorID    int64
	Actor      string
	RemoteAddr string
	Action     string
	ObjectType string
	ObjectID   string
	Before     any
	After      any
	Detail     string
}

// Record writes c and returns the entry's id.
func Record(ctx context.Context, q Execer, c Change) (int64, error) {
	if c.Actor == "" || c.Action == "" || c.ObjectType == "" {
		return 0, errors.New("audit: actor, action and object type are required")
	}
	before, err := maskedJSON(c.Before)
	if err != nil {
		return 0, fmt.Errorf("audit: before: %w", err)
	}
	after, err := maskedJSON(c.After)
	if err != nil {
		return 0, fmt.Errorf("audit: after: %w", err)
	}
	var actorID *int64
	if c.ActorID != 0 {
		actorID = &c.ActorID
	}
	var id int64
	err = q.QueryRow(ctx, `INSERT INTO audit_log (actor_id, actor, action, object_type, object_id, before, after, remote_addr, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		actorID, c.Actor, c.Action, c.ObjectType, c.ObjectID, before, after, c.RemoteAddr, c.Detail).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("audit: record %s %s %s: %w", c.Action, c.ObjectType, c.ObjectID, err)
	}
	return id, nil
}

// secretKeys are member names whose values are masked wherever they
// appear. The API's views leave secrets out already; this is the second
// line, for a view that one day forgets to.
var secretKeys = map[string]bool{"password": true, "secret": true, "token": true}

// maskedJSON marshals v and masks secret members; nil gives SQL NULL.
func maskedJSON(v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var tree any
	if err := json.Unmarshal(b, &tree); err != nil {
		return nil, err
	}
	if tree == nil {
		return nil, nil
	}
	return json.Marshal(mask(tree))
}

func mask(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if s, ok := x.(string); ok && secretKeys[strings.ToLower(k)] {
				if s != "" {
					t[k] = Masked
				}
				continue
			}
			t[k] = mask(x)
		}
	case []any:
		for i := range t {
			t[i] = mask(t[i])
		}
	}
	return v
}

// Filter selects entries. Zero fields do not filter.
type Filter struct {
	Since, Until time.Time // at >= Since, at < Until
	Actor        string
	ObjectType   string
	ObjectID     string
	Action       string
	// Before is the keyset cursor: entries with id < Before (0: newest).
	Before int64
	Limit  int
}

// Querier runs queries (a pool).
type Querier interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}

// MaxLimit bounds one page.
const MaxLimit = 500

// List returns entries newest first and the cursor for the next page (0:
// no more).
func List(ctx context.Context, q Querier, f Filter) ([]Entry, int64, error) {
	if f.Limit <= 0 || f.Limit > MaxLimit {
		f.Limit = 100
	}
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if !f.Since.IsZero() {
		add("at >= ?", f.Since)
	}
	if !f.Until.IsZero() {
		add("at < ?", f.Until)
	}
	if f.Actor != "" {
		add("actor = ?", f.Actor)
	}
	if f.ObjectType != "" {
		add("object_type = ?", f.ObjectType)
	}
	if f.ObjectID != "" {
		add("object_id = ?", f.ObjectID)
	}
	if f.Action != "" {
		add("action = ?", f.Action)
	}
	if f.Before > 0 {
		add("id < ?", f.Before)
	}
	sql := `SELECT id, at, coalesce(actor_id, 0), actor, action, object_type, object_id, before, after, remote_addr, detail FROM audit_log`
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, f.Limit+1)
	sql += " ORDER BY id DESC LIMIT $" + strconv.Itoa(len(args))
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("audit: list: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Entry, error) {
		var e Entry
		var before, after []byte
		err := r.Scan(&e.ID, &e.At, &e.ActorID, &e.Actor, &e.Action, &e.ObjectType, &e.ObjectID, &before, &after, &e.RemoteAddr, &e.Detail)
		e.Before, e.After = before, after
		return e, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("audit: list: %w", err)
	}
	var next int64
	if len(out) > f.Limit {
		out = out[:f.Limit]
		next = out[len(out)-1].ID
	}
	return out, next, nil
}
