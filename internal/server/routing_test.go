package server

import (
	"context"
	"testing"
	"time"

	"github.com/faxd/faxd/internal/api/routingcfg"
	"github.com/faxd/faxd/internal/config"
	"github.com/faxd/faxd/queue"
)

// A node with no gateway in its file leaves faxes pending; once an
// administrator adds a gateway and a route in the database (through the
// API's store), the node picks them up and the fax goes out through it.
func TestGatewayFromDatabase(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *config.Config) {
		selfConfig(c)
		c.Channel.Gateways, c.Channel.Routes = nil, nil
	})
	ctx := context.Background()
	job := enqueueFax(t, s, testPages(1, 120), queue.Request{})
	time.Sleep(2 * time.Second)
	if j, _ := s.Queue.Get(ctx, job.ID); j.State != queue.Pending || j.Attempts != 0 {
		t.Fatalf("with no gateway the fax should wait untouched: %+v", j)
	}
	store := routingcfg.New(s.DB.Queue)
	if _, err := store.CreateGateway(ctx, routingcfg.Gateway{Name: "db-self", Address: s.channels.self, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateRoute(ctx, routingcfg.Route{Prefix: "+1555", Gateway: "db-self", Cost: 1}); err != nil {
		t.Fatal(err)
	}
	j := waitJob(t, s, job.ID, 90*time.Second, "sent", func(j queue.Job) bool { return j.State == queue.Sent || j.State == queue.Failed })
	if j.State != queue.Sent || j.PagesConfirmed != 1 {
		t.Fatalf("job %+v", j)
	}
	if gw, _ := j.Metadata["result"].(map[string]any)["gateway"].(string); gw != "db-self" {
		t.Errorf("sent through %q, want db-self", gw)
	}
}
