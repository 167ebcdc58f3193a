package server

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/faxd/faxd/internal/sip"
	"github.com/faxd/faxd/queue"
)

// callCounter stands in front of the far end's admission and counts the
// calls it has accepted and not yet ended, in all and per dialled number,
// keeping the highest counts seen.
type callCounter struct {
	inner sip.Admission

	mu             sync.Mutex
	up, maxUp      int
	perNumber      map[string]int
	maxPerNumber   int
	accepted, done int
}

func (c *callCounter) Admit(ctx context.Context, in sip.Incoming) sip.Decision {
	d := c.inner.Admit(ctx, in)
	if d.Verdict != sip.Accept {
		return d
	}
	c.mu.Lock()
	c.up++
	c.accepted++
	c.maxUp = max(c.maxUp, c.up)
	c.perNumber[in.DID]++
	c.maxPerNumber = max(c.maxPerNumber, c.perNumber[in.DID])
	c.mu.Unlock()
	d.Channel = &countedChannel{inner: d.Channel, c: c, did: in.DID}
	return d
}

func (c *callCounter) end(did string) {
	c.mu.Lock()
	c.up--
	c.done++
	c.perNumber[did]--
	c.mu.Unlock()
}

// countedChannel ends its count when the call ends (or never came up).
type countedChannel struct {
	inner sip.InboundChannel
	c     *callCounter
	did   string
}

func (ch *countedChannel) Established(call *sip.Call) {
	go func() {
		<-call.Done()
		ch.c.end(ch.did)
	}()
	ch.inner.Established(call)
}

func (ch *countedChannel) Failed(err error) {
	ch.c.end(ch.did)
	ch.inner.Failed(err)
}

// Three real faxd processes on one queue database, each with two outbound
// channels, send through one gateway whose max_channels is 2: the far end
// never has more than 2 of their calls up at once, never 2 to the same
// number (channel.max_calls_per_number 1, the default), and every fax is
// sent. Without the cluster-wide counts the 6 channels would put up to 6
// calls on the gateway.
func TestProcessClusterGatewayLimits(t *testing.T) {
	t.Parallel()
	c := newProcessCluster(t)
	counter := &callCounter{inner: c.far.channels.Pool, perNumber: map[string]int{}}
	c.far.channels.UA.SetAdmission(counter)

	const nodes, limit = 3, 2
	opts := procOptions{channels: 2, maxChannels: limit}
	for i := range nodes {
		startFaxdWith(t, c.dsn, fmt.Sprintf("lim-%d", i), c.gw, 30*time.Second, opts)
	}
	for i := range nodes {
		c.waitNode(t, fmt.Sprintf("lim-%d", i))
	}
	// Two faxes to one number, four to numbers of their own.
	var jobs []queue.Job
	for i := range 6 {
		number := "+15550150"
		if i >= 2 {
			number = fmt.Sprintf("+1555016%d", i)
		}
		jobs = append(jobs, c.enqueueTo(t, 1, number))
	}
	nodesUsed := map[string]bool{}
	for _, j := range jobs {
		j = c.wait(t, j.ID, "finished", func(j queue.Job) bool { return j.State.Final() })
		if j.State != queue.Sent {
			t.Fatalf("job %d to %s ended %s (%s), want sent", j.ID, j.Destination, j.State, j.LastReason)
		}
		nodesUsed[j.NodeID] = true
	}
	counter.mu.Lock()
	defer counter.mu.Unlock()
	t.Logf("calls accepted %d; at most %d up at once, %d to one number; sent by %d nodes",
		counter.accepted, counter.maxUp, counter.maxPerNumber, len(nodesUsed))
	if counter.maxUp > limit {
		t.Errorf("the gateway carried %d calls at once, want at most max_channels %d", counter.maxUp, limit)
	}
	if counter.maxPerNumber > 1 {
		t.Errorf("the gateway carried %d calls to one number at once, want at most 1", counter.maxPerNumber)
	}
	if counter.accepted < len(jobs) {
		t.Errorf("the far end accepted %d calls for %d faxes", counter.accepted, len(jobs))
	}
}
