package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// Delivery is one notification going out: a webhook call or an email.
type Delivery struct {
	ID             int64           `json:"id"`
	Kind           string          `json:"kind"` // email, webhook
	Event          string          `json:"event"`
	Target         string          `json:"target"`
	Subject        string          `json:"subject,omitempty"`
	Payload        json.RawMessage `json:"payload"`
	FaxRef         string          `json:"fax_ref,omitempty"`
	Attach         bool            `json:"attach"`
	IdempotencyKey string          `json:"idempotency_key"`
	Attempts       int             `json:"attempts"`
	MaxAttempts    int             `json:"max_attempts"`
	NextAttemptAt  time.Time       `json:"next_attempt_at"`
	State          string          `json:"state"` // pending, delivered, failed
	LastError      string          `json:"last_error,omitempty"`
	NodeID         string          `json:"node_id,omitempty"`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
	FinishedAt     time.Time       `json:"finished_at,omitzero"`
}

// DeliveryList is a page of deliveries, newest first.
type DeliveryList struct {
	Deliveries []Delivery `json:"deliveries"`
	NextCursor string     `json:"next_cursor,omitempty"`
}

// ListDeliveriesParams filter ListDeliveries; zero fields are left out.
type ListDeliveriesParams struct {
	State  string // pending, delivered, failed
	FaxRef string
	Event  string
	Limit  int
	Cursor string
}

// ListDeliveries lists notification deliveries, newest first (admin or
// operator).
func (c *Client) ListDeliveries(ctx context.Context, p ListDeliveriesParams) (*DeliveryList, error) {
	q := url.Values{}
	set(q, "state", p.State)
	set(q, "fax_ref", p.FaxRef)
	set(q, "event", p.Event)
	setInt(q, "limit", p.Limit)
	set(q, "cursor", p.Cursor)
	var out DeliveryList
	return &out, c.getJSON(ctx, "/v1/deliveries", q, &out)
}

// RetryDelivery makes a failed delivery due again with a fresh attempt
// budget (admin or operator).
func (c *Client) RetryDelivery(ctx context.Context, id int64) (*Delivery, error) {
	var out Delivery
	return &out, c.call(ctx, http.MethodPost, "/v1/deliveries/"+itoa(id)+"/retry", nil, nil, &out)
}
