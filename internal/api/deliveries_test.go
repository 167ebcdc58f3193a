package api

import (
	"context"
	"fmt"
	"net/url"
	"testing"

	"github.com/faxd/faxd/internal/notify"
	"github.com/faxd/faxd/internal/users"
)

// addDelivery writes a delivery row as a worker leaves it.
func (e *env) addDelivery(key, state, ref string) int64 {
	e.t.Helper()
	var id int64
	err := e.pool.QueryRow(context.Background(), `INSERT INTO deliveries
		(kind, event, target, payload_ref, idempotency_key, attempts, max_attempts, state, last_error, finished_at)
		VALUES ('webhook', 'fax.received', 'https://hooks.example/in', $3, $1, 3, 3, $2,
		        CASE WHEN $2 = 'failed' THEN 'HTTP 500' ELSE '' END, CASE WHEN $2 = 'pending' THEN NULL ELSE now() END)
		RETURNING id`, key, state, ref).Scan(&id)
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

func TestDeliveriesListAndRetry(t *testing.T) {
	e := newEnv(t, Config{RateLimit: 1000, RateBurst: 1000})
	failed := e.addDelivery("k1", "failed", "rx-1")
	e.addDelivery("k2", "delivered", "rx-2")
	e.addDelivery("k3", "failed", "rx-3")

	var l DeliveryList
	e.do("GET", "/v1/deliveries?state=failed&limit=1", e.admin, nil, "").json(t, &l)
	if len(l.Deliveries) != 1 || l.Deliveries[0].State != notify.StateFailed || l.NextCursor == "" {
		t.Fatalf("first page: %+v", l)
	}
	var l2 DeliveryList
	e.do("GET", "/v1/deliveries?state=failed&limit=1&cursor="+url.QueryEscape(l.NextCursor), e.admin, nil, "").json(t, &l2)
	if len(l2.Deliveries) != 1 || l2.Deliveries[0].ID != failed || l2.NextCursor != "" {
		t.Fatalf("second page: %+v", l2)
	}
	var byRef DeliveryList
	e.do("GET", "/v1/deliveries?fax_ref=rx-2", e.admin, nil, "").json(t, &byRef)
	if len(byRef.Deliveries) != 1 || byRef.Deliveries[0].FaxRef != "rx-2" {
		t.Fatalf("by fax_ref: %+v", byRef)
	}
	if r := e.do("GET", "/v1/deliveries?state=lost", e.admin, nil, ""); r.status != 400 {
		t.Fatalf("bad state: %d", r.status)
	}

	// A person of the user role may neither see nor retry them.
	u := e.login("ann", users.RoleUser)
	if r := u.do("GET", "/v1/deliveries", nil, false); r.status != 403 {
		t.Fatalf("user lists deliveries: %d", r.status)
	}
	if r := u.do("POST", fmt.Sprintf("/v1/deliveries/%d/retry", failed), nil, true); r.status != 403 {
		t.Fatalf("user retries: %d", r.status)
	}

	var d notify.Delivery
	e.do("POST", fmt.Sprintf("/v1/deliveries/%d/retry", failed), e.admin, nil, "").json(t, &d)
	if d.ID != failed || d.State != notify.StatePending || d.Attempts != 0 {
		t.Fatalf("retried: %+v", d)
	}
	// Only a failed delivery can be retried.
	if r := e.do("POST", fmt.Sprintf("/v1/deliveries/%d/retry", failed), e.admin, nil, ""); r.status != 404 {
		t.Fatalf("retry of a pending delivery: %d", r.status)
	}
	var audit AuditList
	e.do("GET", "/v1/audit?object_type=delivery", e.admin, nil, "").json(t, &audit)
	if len(audit.Entries) != 1 || audit.Entries[0].ObjectID != fmt.Sprint(failed) || audit.Entries[0].Action != "retry" {
		t.Fatalf("audit: %+v", audit.Entries)
	}
}
