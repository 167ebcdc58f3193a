package console

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/faxd/faxd/client"
)

// ---- notification deliveries (operators and admins)

type deliveriesData struct {
	Q          url.Values
	Deliveries []client.Delivery
	NextCursor string
	Notice     string
}

func (c *Console) deliveries(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	list, err := s.api.ListDeliveries(r.Context(), client.ListDeliveriesParams{State: q.Get("state"), FaxRef: q.Get("fax_ref"),
		Event: q.Get("event"), Cursor: q.Get("cursor"), Limit: 100})
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	d := deliveriesData{Q: q, Deliveries: list.Deliveries, Notice: q.Get("notice")}
	if list.NextCursor != "" {
		next := url.Values{}
		for k, v := range q {
			if k != "notice" {
				next[k] = v
			}
		}
		next.Set("cursor", list.NextCursor)
		d.NextCursor = next.Encode()
	}
	c.render(w, r, s, http.StatusOK, "deliveries", d)
}

// deliveryRetry makes a failed delivery due again and returns to the
// list the button was on.
func (c *Console) deliveryRetry(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := pathID(r)
	if !ok {
		c.badID(w, r, s)
		return
	}
	if _, err := s.api.RetryDelivery(r.Context(), id); err != nil {
		c.fail(w, r, s, err)
		return
	}
	back := url.Values{}
	if st := r.PostFormValue("state"); st != "" {
		back.Set("state", st)
	}
	back.Set("notice", fmt.Sprintf("Delivery %d is due again.", id))
	http.Redirect(w, r, "/console/deliveries?"+back.Encode(), http.StatusSeeOther)
}
