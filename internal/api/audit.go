package api

import (
	"encoding/base64"
	"net"
	"net/http"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/faxd/faxd/internal/audit"
)

// audited runs a change and records it in the audit log in one
// transaction: fn makes the change inside tx and describes it; the entry
// gets the caller and the client's address here.
func (a *API) audited(r *http.Request, c *caller, fn func(tx pgx.Tx) (audit.Change, error)) error {
	return pgx.BeginFunc(r.Context(), a.pool, func(tx pgx.Tx) error {
		ch, err := fn(tx)
		if err != nil {
			return err
		}
		a.stamp(&ch, r, c)
		_, err = audit.Record(r.Context(), tx, ch)
		return err
	})
}

// stamp fills in who made a change and from where.
func (a *API) stamp(ch *audit.Change, r *http.Request, c *caller) {
	ch.ActorID, ch.Actor, ch.RemoteAddr = c.ID, c.Name, remoteAddr(r)
}

// remoteAddr is the client's address as the connection shows it. Headers
// such as X-Forwarded-For are not trusted: any client can send them.
func remoteAddr(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// AuditList is a page of the audit log, newest first; NextCursor
// continues it.
type AuditList struct {
	Entries    []audit.Entry `json:"entries"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

func (a *API) listAudit(w http.ResponseWriter, r *http.Request, c *caller) error {
	q := newQuery(r)
	f := audit.Filter{
		Since: q.time("since"), Until: q.time("until"),
		Actor: q.str("actor"), ObjectType: q.str("object_type"), ObjectID: q.str("object_id"), Action: q.str("action"),
		Limit: q.int("limit", 1, audit.MaxLimit, 100),
	}
	if s := q.str("cursor"); s != "" {
		b, err := base64.RawURLEncoding.DecodeString(s)
		id, err2 := strconv.ParseInt(string(b), 10, 64)
		if err != nil || err2 != nil || id <= 0 {
			q.bad("cursor: not a cursor this server handed out (use next_cursor as is)")
		}
		f.Before = id
	}
	if err := q.err("since", "until", "actor", "object_type", "object_id", "action", "limit", "cursor"); err != nil {
		return err
	}
	es, next, err := audit.List(r.Context(), a.pool, f)
	if err != nil {
		return err
	}
	out := AuditList{Entries: es}
	if out.Entries == nil {
		out.Entries = []audit.Entry{}
	}
	if next > 0 {
		out.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(next, 10)))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
