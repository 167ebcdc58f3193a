package api

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/faxd/faxd/internal/audit"
	"github.com/faxd/faxd/internal/notify"
)

// DeliveryList is a page of notification deliveries (webhooks, emails),
// newest first; NextCursor continues it.
type DeliveryList struct {
	Deliveries []notify.Delivery `json:"deliveries"`
	NextCursor string            `json:"next_cursor,omitempty"`
}

func (a *API) deliveryRoutes() []route {
	return []route{
		{"GET", "/v1/deliveries", needOperator, a.listDeliveries},
		{"POST", "/v1/deliveries/{id}/retry", needOperator, a.retryDelivery},
	}
}

func (a *API) listDeliveries(w http.ResponseWriter, r *http.Request, c *caller) error {
	q := newQuery(r)
	f := notify.Filter{
		State:  notify.State(q.oneOf("state", "pending", "delivered", "failed")),
		FaxRef: q.str("fax_ref"), Event: q.str("event"),
		Limit: q.int("limit", 1, notify.MaxLimit, 100),
	}
	if s := q.str("cursor"); s != "" {
		b, err := base64.RawURLEncoding.DecodeString(s)
		id, err2 := strconv.ParseInt(string(b), 10, 64)
		if err != nil || err2 != nil || id <= 0 {
			q.bad("cursor: not a cursor this server handed out (use next_cursor as is)")
		}
		f.Before = id
	}
	if err := q.err("state", "fax_ref", "event", "limit", "cursor"); err != nil {
		return err
	}
	// One more than asked tells whether a next page exists.
	want := f.Limit
	f.Limit++
	ds, err := notify.List(r.Context(), a.pool, f)
	if err != nil {
		return err
	}
	out := DeliveryList{Deliveries: ds}
	if len(ds) > want {
		out.Deliveries = ds[:want]
		out.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(ds[want-1].ID, 10)))
	}
	if out.Deliveries == nil {
		out.Deliveries = []notify.Delivery{}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// retryDelivery makes a failed delivery due again with a fresh attempt
// budget (the receiver was fixed), audited.
func (a *API) retryDelivery(w http.ResponseWriter, r *http.Request, c *caller) error {
	id, err := pathID(r, "id", "delivery")
	if err != nil {
		return err
	}
	var d notify.Delivery
	err = a.audited(r, c, func(tx pgx.Tx) (audit.Change, error) {
		if err := notify.RetryDelivery(r.Context(), tx, id); err != nil {
			return audit.Change{}, err
		}
		ds, err := notify.List(r.Context(), tx, notify.Filter{Before: id + 1, Limit: 1})
		if err == nil && (len(ds) == 0 || ds[0].ID != id) {
			err = errors.New("api: retried delivery vanished")
		}
		if err != nil {
			return audit.Change{}, err
		}
		d = ds[0]
		return audit.Change{Action: "retry", ObjectType: audit.Delivery, ObjectID: strconv.FormatInt(id, 10),
			Detail: string(d.Kind) + " " + d.Event}, nil
	})
	if errors.Is(err, notify.ErrNotFound) {
		return notFound("delivery %d is not a failed delivery (only failed ones can be retried)", id)
	}
	if err != nil {
		return err
	}
	a.log.Info("delivery retried", "delivery", id, "by", c.Name)
	writeJSON(w, http.StatusOK, d)
	return nil
}
