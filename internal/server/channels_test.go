package server

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/faxd/faxd/archive"
	"github.com/faxd/faxd/internal/calltrace"
	"github.com/faxd/faxd/internal/channel"
	"github.com/faxd/faxd/internal/config"
	"github.com/faxd/faxd/internal/docstore"
	"github.com/faxd/faxd/internal/sip"
	"github.com/faxd/faxd/queue"
	"github.com/faxd/faxd/t38/bilevel"
	"github.com/faxd/faxd/t38/tiff"
)

// These tests run a whole faxd node that faxes itself: its outbound
// channel calls the "self" gateway (its own SIP listener) over real UDP
// on loopback, and its inbound channel answers, receives and archives.

// selfConfig points the node's one route at its own SIP listener.
func selfConfig(c *config.Config) {
	c.SIP.ListenUDP = "127.0.0.1:0"
	c.SIP.MediaBind = "127.0.0.1"
	c.SIP.AllowFrom = []string{"127.0.0.1/32"}
	c.Channels.Count = 2
	c.Channel.InboundCount = 2
	c.Channel.StationID = "+1 555 0100"
	c.Channel.HeaderTemplate = "" // pages arrive pixel for pixel as sent
	c.Channel.Gateways = []channel.Gateway{{Name: "self", Address: channel.SelfAddress}}
	c.Channel.Routes = []channel.Route{{Prefix: "", Gateway: "self"}}
	c.Channel.DrainTimeout = 5 * time.Second
	// Roomier than startServer's 1 s lease: on a loaded machine a missed
	// renewal would fence the node and interrupt the call under test.
	c.Queue.HeartbeatInterval = config.Duration(500 * time.Millisecond)
	c.Queue.LeaseTTL = config.Duration(5 * time.Second)
}

// testPages makes n small standard-resolution pages, each different.
func testPages(n, rows int) []*bilevel.Image {
	pages := make([]*bilevel.Image, n)
	for i := range pages {
		img := bilevel.New(1728, rows)
		img.XDPI, img.YDPI = 204, 98
		for y := 10; y < rows-10; y++ {
			for x := 100 + 40*i; x < 1600; x++ {
				// Bars of varying width: a few runs per row, changing slowly.
				if (x/(24+i*8)+y/16)%3 == 0 {
					img.SetBlack(x, y, true)
				}
			}
		}
		pages[i] = img
	}
	return pages
}

// enqueueFax stores pages in the document store and queues a job for them.
func enqueueFax(t *testing.T, s *Server, pages []*bilevel.Image, req queue.Request) queue.Job {
	t.Helper()
	ctx := context.Background()
	var b bytes.Buffer
	if err := tiff.EncodeFax(&b, pages, tiff.FaxOptions{}); err != nil {
		t.Fatal(err)
	}
	ref, err := s.docs.Put(ctx, docstore.NewSet{Recipe: t.Name(), Pages: b.Bytes(), PageCount: len(pages),
		Sources: []docstore.Source{{Filename: "pages.tif", ContentType: "image/tiff", Data: b.Bytes()}}})
	if err != nil {
		t.Fatal(err)
	}
	req.Document, req.PagesTotal = ref, len(pages)
	if req.Destination == "" {
		req.Destination = "+15550199"
	}
	job, _, err := s.Queue.Enqueue(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.docs.Release(ctx, ref); err != nil {
		t.Fatal(err)
	}
	return job
}

// waitJob polls the job until cond holds.
func waitJob(t *testing.T, s *Server, id int64, d time.Duration, what string, cond func(queue.Job) bool) queue.Job {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		j, err := s.Queue.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if cond(j) {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %d never %s: %+v", id, what, j)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitArchived waits for n archived faxes matching f.
func waitArchived(t *testing.T, s *Server, f archive.Filter, n int) []archive.Record {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		recs, _, err := s.Archive.Search(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) >= n {
			return recs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d archived %s faxes, want %d: %+v", len(recs), f.Direction, n, recs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// receivedPages reads back a received fax's stored TIFF and checks its PDF.
func receivedPages(t *testing.T, s *Server, ref string) []tiff.Page {
	t.Helper()
	ctx := context.Background()
	set, err := s.docs.Get(ctx, ref)
	if err != nil {
		t.Fatalf("received document %q: %v", ref, err)
	}
	if len(set.Sources) != 1 || set.Sources[0].ContentType != "application/pdf" {
		t.Fatalf("received set sources %+v, want one PDF", set.Sources)
	}
	pdf, _, err := s.docs.Blob(ctx, set.Sources[0].SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) || !bytes.Contains(pdf, []byte("CCITTFaxDecode")) {
		t.Fatalf("received PDF does not look like a fax PDF (%d bytes)", len(pdf))
	}
	data, n, err := s.docs.Pages(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	pages, err := tiff.Decode(data)
	if err != nil {
		t.Fatalf("received TIFF: %v", err)
	}
	if len(pages) != n {
		t.Fatalf("received TIFF holds %d pages, the set says %d", len(pages), n)
	}
	return pages
}

// noPortsLeased waits for every media port to be back in the pool.
func noPortsLeased(t *testing.T, s *Server) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); s.channels.UA.Pool().Leased() != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%d media ports still leased after the calls ended", s.channels.UA.Pool().Leased())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func metricsBody(t *testing.T, s *Server) string {
	_, body := get(t, "http://"+s.HTTPAddr()+"/metrics")
	return body
}

// The node sends a two-page fax to itself: the job goes pending →
// sending → sent with both pages confirmed; the inbound side stores the
// fax as TIFF and PDF, pixel for pixel what was sent, and both directions
// reach the archive with the gateway and station ids.
func TestChannelsFaxToSelf(t *testing.T) {
	t.Parallel()
	s := startServer(t, selfConfig)
	pages := testPages(2, 120)
	job := enqueueFax(t, s, pages, queue.Request{Submitter: "self-test", CallerID: "15550100"})
	done := waitJob(t, s, job.ID, 90*time.Second, "sent", func(j queue.Job) bool { return j.State.Final() })
	if done.State != queue.Sent || done.PagesConfirmed != 2 {
		t.Fatalf("job ended %s (%s: %s) with %d pages confirmed", done.State, done.LastClass, done.LastReason, done.PagesConfirmed)
	}
	hist, err := s.Queue.History(context.Background(), job.ID)
	if err != nil {
		t.Fatal(err)
	}
	var path []string
	for _, h := range hist {
		path = append(path, string(h.To))
	}
	if strings.Join(path, ">") != "pending>sending>sent" {
		t.Errorf("history %v", path)
	}
	res, _ := done.Metadata["result"].(map[string]any)
	if res["gateway"] != "self" || res["remote_station_id"] != "+1 555 0100" {
		t.Errorf("metadata.result = %v", res)
	}

	out := waitArchived(t, s, archive.Filter{Direction: archive.Outbound}, 1)[0]
	if out.Result != "sent" || out.Gateway != "self" || out.RemoteStationID != "+1 555 0100" || out.Pages != 2 || out.DurationMS <= 0 {
		t.Errorf("outbound archive record %+v", out)
	}
	in := waitArchived(t, s, archive.Filter{Direction: archive.Inbound}, 1)[0]
	if in.Result != "received" || in.Pages != 2 || in.LocalNumber != "+15550199" || in.RemoteNumber != "15550100" ||
		in.RemoteStationID != "+1 555 0100" || in.Document == "" || in.StartedAt.IsZero() {
		t.Errorf("inbound archive record %+v", in)
	}
	got := receivedPages(t, s, in.Document)
	if len(got) != 2 {
		t.Fatalf("received %d pages", len(got))
	}
	for i, p := range got {
		if p.Bilevel == nil || !p.Bilevel.Equal(pages[i]) {
			t.Errorf("received page %d differs from the page sent", i+1)
		}
	}
	// Both calls left a trace: the sender's SIP steps and frames, and the
	// receiver's, each ending with the result.
	ctx := context.Background()
	traces := calltrace.NewStore(s.DB.Queue)
	outTrace := waitTrace(t, func() (calltrace.Trace, error) { return traces.ForAttempt(ctx, job.ID, 1) })
	inTrace := waitTrace(t, func() (calltrace.Trace, error) {
		return traces.ForReceived(ctx, strings.TrimPrefix(in.Key, in.Source+"/"))
	})
	if want := "sent: "; !strings.HasPrefix(outTrace.Result, want) || outTrace.Gateway != "self" || outTrace.CallID == "" {
		t.Errorf("outbound trace %+v", outTrace)
	}
	if !strings.HasPrefix(inTrace.Result, "received") || inTrace.CallID != outTrace.CallID {
		t.Errorf("inbound trace %+v (call id %q)", inTrace, outTrace.CallID)
	}
	seq := func(tr calltrace.Trace) string {
		var b []string
		for _, ev := range tr.Events {
			switch ev.Kind {
			case "tx", "rx":
				b = append(b, ev.Kind+":"+ev.Frame)
			case "sip":
				b = append(b, "sip:"+strings.Fields(ev.Detail)[0])
			case "done":
				b = append(b, "done")
			}
		}
		return strings.Join(b, " ")
	}
	for _, c := range []struct {
		tr    calltrace.Trace
		wants []string
	}{
		{outTrace, []string{"sip:INVITE", "sip:answered", "rx:DIS", "tx:DCS", "rx:CFR", "rx:MCF", "tx:DCN", "done"}},
		{inTrace, []string{"sip:INVITE", "tx:DIS", "rx:DCS", "tx:CFR", "tx:MCF", "rx:DCN", "done"}},
	} {
		got, rest := seq(c.tr), seq(c.tr)
		for _, w := range c.wants {
			i := strings.Index(rest, w)
			if i < 0 {
				t.Errorf("%s trace lacks %s after what came before: %s", c.tr.Direction, w, got)
				break
			}
			rest = rest[i+len(w):]
		}
	}
	noPortsLeased(t, s)
	body := metricsBody(t, s)
	for _, want := range []string{
		`faxd_calls_total{direction="outbound",result="sent"} 1`,
		`faxd_calls_total{direction="inbound",result="received"} 1`,
		`faxd_pages_total{direction="outbound"} 2`,
		`faxd_pages_total{direction="inbound"} 2`,
		`faxd_channels_busy{direction="outbound"} 0`,
		`faxd_gateway_up{gateway="self"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// A cancel while the fax is on the line hangs up at once: the job ends
// cancelled with the pages confirmed so far, and the receiver saw a
// dropped call with fewer pages.
func TestChannelsCancelMidCall(t *testing.T) {
	t.Parallel()
	s := startServer(t, selfConfig)
	job := enqueueFax(t, s, testPages(4, 120), queue.Request{})
	waitJob(t, s, job.ID, 60*time.Second, "had a page confirmed", func(j queue.Job) bool { return j.PagesConfirmed >= 1 || j.State.Final() })
	if _, err := s.Queue.Cancel(context.Background(), job.ID, "test"); err != nil {
		t.Fatal(err)
	}
	asked := time.Now()
	done := waitJob(t, s, job.ID, 10*time.Second, "cancelled", func(j queue.Job) bool { return j.State.Final() })
	if done.State != queue.Cancelled || done.PagesConfirmed < 1 || done.PagesConfirmed >= 4 {
		t.Fatalf("job ended %s with %d pages confirmed", done.State, done.PagesConfirmed)
	}
	t.Logf("cancelled %v after the request", time.Since(asked).Round(time.Millisecond))
	in := waitArchived(t, s, archive.Filter{Direction: archive.Inbound}, 1)[0]
	if in.Result != "receive_failed" || in.Pages >= 4 || in.Pages < done.PagesConfirmed {
		t.Errorf("inbound record %+v after a cancel at page %d", in, done.PagesConfirmed)
	}
	if out, _ := s.channels.Pool.Busy(); out != 0 {
		t.Errorf("%d outbound channels still busy", out)
	}
	noPortsLeased(t, s)
}

// When the node can no longer renew its lease (its row is locked, so the
// renewal hangs), the channel hangs up before the lease could expire in
// the database; once the node is back, the job is taken over and resumed
// from the first unconfirmed page: the second call carries only the rest.
func TestChannelsLeaseLossHangsUpThenResumes(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *config.Config) {
		selfConfig(c)
		c.Queue.HeartbeatInterval = config.Duration(300 * time.Millisecond)
		c.Queue.LeaseTTL = config.Duration(3 * time.Second)
	})
	ctx := context.Background()
	job := enqueueFax(t, s, testPages(4, 120), queue.Request{})
	waitJob(t, s, job.ID, 60*time.Second, "had a page confirmed", func(j queue.Job) bool { return j.PagesConfirmed >= 1 || j.State.Final() })

	tx, err := s.DB.Queue.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT 1 FROM nodes WHERE node_id = $1 FOR UPDATE", s.cfg.Node.ID); err != nil {
		t.Fatal(err)
	}
	var hungUp time.Time
	for deadline := time.Now().Add(10 * time.Second); ; {
		if out, _ := s.channels.Pool.Busy(); out == 0 {
			hungUp = time.Now()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("call not hung up after the lease was lost")
		}
		time.Sleep(5 * time.Millisecond)
	}
	var expires time.Time
	if err := s.DB.Queue.QueryRow(ctx, "SELECT lease_expires_at FROM nodes WHERE node_id = $1", s.cfg.Node.ID).Scan(&expires); err != nil {
		t.Fatal(err)
	}
	if !hungUp.Before(expires) {
		t.Errorf("hung up at %v, not before the lease expired at %v", hungUp, expires)
	}
	mid, err := s.Queue.Get(ctx, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The fenced node writes nothing: the job is still sending, or a live
	// node (this server's next incarnation, once the old one's liveness
	// session is gone) has already taken it over.
	switch mid.State {
	case queue.Sending:
	case queue.Pending:
		hist, err := s.Queue.History(ctx, job.ID)
		if err != nil {
			t.Fatal(err)
		}
		if last := hist[len(hist)-1]; !strings.HasPrefix(last.Reason, "taken over from ") {
			t.Errorf("job pending after the hangup through %q; only a takeover may move it", last.Reason)
		}
	default:
		t.Errorf("job %s after the hangup; the fenced node must not write it", mid.State)
	}
	confirmed := mid.PagesConfirmed
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}

	done := waitJob(t, s, job.ID, 90*time.Second, "sent after the takeover", func(j queue.Job) bool { return j.State.Final() })
	if done.State != queue.Sent || done.PagesConfirmed != 4 {
		t.Fatalf("job ended %s (%s) with %d pages", done.State, done.LastReason, done.PagesConfirmed)
	}
	recs := waitArchived(t, s, archive.Filter{Direction: archive.Inbound, Result: "received"}, 1)
	if recs[0].Pages != 4-confirmed {
		t.Errorf("the resumed call carried %d pages, want the %d not confirmed before", recs[0].Pages, 4-confirmed)
	}
	if got := receivedPages(t, s, recs[0].Document); len(got) != 4-confirmed {
		t.Errorf("stored %d pages", len(got))
	}
}

// A gateway with no SIP listener is down: the call moves on to the next
// candidate at once, in the same attempt; the dead gateway leaves the
// rotation.
func TestChannelsGatewayDownNextCandidate(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	s := startServer(t, func(c *config.Config) {
		selfConfig(c)
		c.SIP.ListenTCP = "127.0.0.1:0" // we call the dead gateway over TCP: refused at once
		c.Channel.Gateways = append([]channel.Gateway{{Name: "dead", Address: dead, Transport: "tcp"}}, c.Channel.Gateways...)
		c.Channel.Routes = []channel.Route{{Prefix: "+1555", Gateway: "dead", Cost: 0}, {Prefix: "+1", Gateway: "self", Cost: 5}}
	})
	job := enqueueFax(t, s, testPages(1, 80), queue.Request{})
	done := waitJob(t, s, job.ID, 90*time.Second, "sent", func(j queue.Job) bool { return j.State.Final() })
	if done.State != queue.Sent || done.Attempts != 1 {
		t.Fatalf("job ended %s after %d attempts (%s)", done.State, done.Attempts, done.LastReason)
	}
	if res, _ := done.Metadata["result"].(map[string]any); res["gateway"] != "self" {
		t.Errorf("sent through %v, want self", res["gateway"])
	}
	for _, g := range s.channels.Router.Status() {
		if g.Name == "dead" && g.Up {
			t.Error("the dead gateway is still in rotation")
		}
	}
	if body := metricsBody(t, s); !strings.Contains(body, `faxd_gateway_up{gateway="dead"} 0`) ||
		!strings.Contains(body, `faxd_gateway_transitions_total{cause="call",gateway="dead",to="down"} 1`) {
		t.Error("faxd_gateway_up or faxd_gateway_transitions_total does not show the dead gateway down")
	}
	// The attempt's trace shows both calls: the refused one, then the one
	// that carried the fax.
	tr := waitTrace(t, func() (calltrace.Trace, error) {
		return calltrace.NewStore(s.DB.Queue).ForAttempt(context.Background(), job.ID, 1)
	})
	var sipSteps []string
	for _, ev := range tr.Events {
		if ev.Kind == calltrace.KindSIP {
			sipSteps = append(sipSteps, ev.Detail)
		}
	}
	all := strings.Join(sipSteps, "\n")
	dead1, failed, self1 := strings.Index(all, "through gateway dead"), strings.Index(all, "call failed"), strings.Index(all, "through gateway self")
	if dead1 < 0 || failed < dead1 || self1 < failed || tr.Gateway != "self" {
		t.Errorf("trace of the attempt (gateway %q):\n%s", tr.Gateway, all)
	}
}

// A job interrupted after two of three pages (its node died) is taken
// over and finished by a live node, which sends only the third page.
func TestChannelsResumeFromFirstUnconfirmedPage(t *testing.T) {
	t.Parallel()
	s := startServer(t, selfConfig)
	ctx := context.Background()
	// The node's own channels stand by while the dying node below claims
	// the job, so that it, not they, gets it.
	s.channels.Pool.SetState(sip.StateStandby)
	job := enqueueFax(t, s, testPages(3, 80), queue.Request{SendAfter: time.Now().Add(time.Hour)})
	dying, err := s.Queue.Register(ctx, queue.NodeInfo{ID: "dying"}, queue.NodeConfig{TTL: time.Second, Interval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB.Queue.Exec(ctx, "UPDATE jobs SET run_at = now() WHERE id = $1", job.ID); err != nil {
		t.Fatal(err)
	}
	claimed, err := s.Queue.Claim(ctx, dying.Lease(), 1)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("dying node's claim: %v %v", claimed, err)
	}
	if _, err := s.Queue.Progress(ctx, job.ID, claimed[0].Token, 2); err != nil {
		t.Fatal(err)
	}
	s.channels.Pool.SetState(sip.StateActive)
	done := waitJob(t, s, job.ID, 90*time.Second, "sent", func(j queue.Job) bool { return j.State.Final() })
	if done.State != queue.Sent || done.PagesConfirmed != 3 || done.NodeID != s.cfg.Node.ID {
		t.Fatalf("job ended %s on %s with %d pages (%s)", done.State, done.NodeID, done.PagesConfirmed, done.LastReason)
	}
	in := waitArchived(t, s, archive.Filter{Direction: archive.Inbound}, 1)[0]
	if in.Pages != 1 {
		t.Fatalf("the resumed call carried %d pages, want 1", in.Pages)
	}
	got := receivedPages(t, s, in.Document)
	if len(got) != 1 || !got[0].Bilevel.Equal(testPages(3, 80)[2]) {
		t.Error("the page received is not the third page")
	}
}

// waitTrace polls for a call trace: it is stored just after the job's
// final transition.
func waitTrace(t *testing.T, get func() (calltrace.Trace, error)) calltrace.Trace {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		tr, err := get()
		if err == nil {
			return tr
		}
		if !errors.Is(err, calltrace.ErrNotFound) || time.Now().After(deadline) {
			t.Fatalf("call trace: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A gateway's media profile shapes the call: the T.38 version offered,
// ECM off and a top rate of 4800 bit/s; the job's history and result say
// which profile the attempt used.
func TestChannelsGatewayProfile(t *testing.T) {
	t.Parallel()
	v3, off := 3, false
	s := startServer(t, func(c *config.Config) {
		selfConfig(c)
		c.SIP.T38Version = 3 // our answering side takes version 3 too
		c.Channel.Gateways[0].T38Version = &v3
		c.Channel.Gateways[0].ECM = &off
		c.Channel.Gateways[0].MaxBitRate = 4800
	})
	job := enqueueFax(t, s, testPages(1, 60), queue.Request{})
	done := waitJob(t, s, job.ID, 90*time.Second, "sent", func(j queue.Job) bool { return j.State.Final() })
	if done.State != queue.Sent {
		t.Fatalf("job ended %s (%s)", done.State, done.LastReason)
	}
	res, _ := done.Metadata["result"].(map[string]any)
	if res["bit_rate"] != 4800.0 || res["ecm"] != false || res["profile"] != "ECM off, up to 4800 bit/s" {
		t.Errorf("result %v", res)
	}
	hist, err := s.Queue.History(context.Background(), job.ID)
	if err != nil {
		t.Fatal(err)
	}
	if last := hist[len(hist)-1]; !strings.Contains(last.Reason, "[ECM off, up to 4800 bit/s]") {
		t.Errorf("history's last reason %q does not name the profile", last.Reason)
	}
	tr := waitTrace(t, func() (calltrace.Trace, error) {
		return calltrace.NewStore(s.DB.Queue).ForAttempt(context.Background(), job.ID, 1)
	})
	var agreed bool
	for _, ev := range tr.Events {
		if ev.Kind == calltrace.KindSIP && strings.Contains(ev.Detail, "T.38 agreed") && strings.Contains(ev.Detail, "version 3") {
			agreed = true
		}
	}
	if !agreed {
		t.Errorf("the trace does not show T.38 version 3 agreed: %+v", tr.Events)
	}
}
