package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/netip"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faxd/faxd/archive"
	"github.com/faxd/faxd/internal/api/tokens"
	"github.com/faxd/faxd/internal/channel"
	"github.com/faxd/faxd/internal/config"
	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/internal/server"
	"github.com/faxd/faxd/queue"
	"github.com/faxd/faxd/t38/interop"
)

// The server tests run a whole faxd node (internal/server: real PostgreSQL,
// embedded NATS, the HTTP API, the channel pool and its SIP user agent)
// against spandsp endpoints. Faxes go in through POST /v1/faxes and come
// out as queue states and archive records.

// faxd is one running node.
type faxd struct {
	s     *server.Server
	base  string // http://host:port
	token string
	sip   netip.AddrPort // its SIP UDP listener
}

// gw is a gateway the node dials.
type gw struct {
	name       string
	addr       netip.AddrPort
	cost       float64
	audioFirst bool
}

// startFaxd runs a node on a fresh database until the test ends.
func startFaxd(t testing.TB, gws []gw, mutate func(*config.Config)) *faxd {
	t.Helper()
	pgtest.Cluster(t) // skips without the PostgreSQL binaries
	sipPort, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	base := int(mediaPorts.Add(40)) - 40
	cfg := config.Default()
	cfg.Node.ID = "e2e-" + strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Database.QueueDSN = pgtest.NewDSN(t)
	cfg.NATS.EmbeddedDir = t.TempDir()
	cfg.NATS.EmbeddedListen = "127.0.0.1:0"
	cfg.Queue.PollInterval = config.Duration(200 * time.Millisecond)
	cfg.Channels.Count = 2
	cfg.SIP.ListenUDP = "127.0.0.1:" + strconv.Itoa(sipPort)
	cfg.SIP.MediaBind = "127.0.0.1"
	cfg.SIP.MediaPortMin, cfg.SIP.MediaPortMax = base, base+39
	cfg.SIP.AllowFrom = []string{"127.0.0.0/8"}
	cfg.SIP.ReinviteAfter = 20 * time.Second
	cfg.SIP.RingTimeout = 3 * time.Second
	// Long enough for a loaded machine's sipp to answer: a gateway that
	// does not answer within it counts as down, and every later attempt
	// of the job then fails at once (seen at 1.5 s under load).
	cfg.SIP.InviteTimeout = 8 * time.Second
	cfg.Channel.HeaderTemplate = "" // pages go out as submitted, so they compare pixel for pixel
	cfg.Channel.ProbeInterval = time.Hour
	cfg.Channel.Gateways, cfg.Channel.Routes = nil, nil
	for _, g := range gws {
		cfg.Channel.Gateways = append(cfg.Channel.Gateways, channel.Gateway{Name: g.name, Address: g.addr.String(), AudioFirst: g.audioFirst})
		cfg.Channel.Routes = append(cfg.Channel.Routes, channel.Route{Prefix: "", Gateway: g.name, Cost: g.cost})
	}
	if mutate != nil {
		mutate(&cfg)
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		t.Fatal(errs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := server.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		s.Close(context.Background())
	})
	secret, _, err := tokens.New(s.DB.Queue).Create(ctx, "e2e", tokens.Submitter)
	if err != nil {
		t.Fatal(err)
	}
	return &faxd{s: s, base: "http://" + s.HTTPAddr(), token: secret,
		sip: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(sipPort))}
}

// submit posts a fax of the TIFF at doc to number and returns the job id.
func (f *faxd) submit(t testing.TB, number, doc string) int64 {
	t.Helper()
	data, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="fax"`)
	h.Set("Content-Type", "application/json")
	pw, _ := mw.CreatePart(h)
	fmt.Fprintf(pw, `{"to": %q, "resolution": "standard", "max_attempts": 5}`, number)
	h = textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="document"; filename="doc.tif"`)
	h.Set("Content-Type", "image/tiff")
	pw, _ = mw.CreatePart(h)
	pw.Write(data)
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, f.base+"/v1/faxes", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+f.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("submit: %d %s", resp.StatusCode, b)
	}
	var job struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal(b, &job); err != nil || job.ID == 0 {
		t.Fatalf("submit answer %s: %v", b, err)
	}
	return job.ID
}

// document fetches what the API serves for a job's document (the prepared
// TIFF Class F pages faxd sends).
func (f *faxd) document(t testing.TB, id int64) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/v1/faxes/%d/document?format=tiff", f.base, id), nil)
	req.Header.Set("Authorization", "Bearer "+f.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("document: %d %s", resp.StatusCode, b)
	}
	p := filepath.Join(t.TempDir(), "prepared.tif")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// waitJob polls the job until done says so.
func (f *faxd) waitJob(ctx context.Context, t testing.TB, id int64, what string, done func(queue.Job) bool) queue.Job {
	t.Helper()
	for {
		j, err := f.s.Queue.Get(ctx, id)
		if err != nil {
			t.Fatalf("job %d: %v", id, err)
		}
		if done(j) {
			return j
		}
		select {
		case <-ctx.Done():
			t.Fatalf("job %d never %s: %+v", id, what, j)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func finished(j queue.Job) bool { return j.State.Final() }

// faxdSendsToSpandsp: a fax submitted over the API goes out through an
// outbound channel to the spandsp endpoint, in each call flow. The job must
// be sent with every page confirmed, spandsp must report T30_ERR_OK, and
// tiffcmp must find spandsp's pages identical to the submitted ones.
func faxdSendsToSpandsp(t *testing.T) {
	doc, _ := testDocument(t)
	interop.Concurrent(t, flows, flowName, func(t *testing.T, flow Flow) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		ep := Listen(t, Options{Flow: flow, ECM: true})
		f := startFaxd(t, []gw{{name: "spandsp", addr: ep.Addr(), audioFirst: flow != FlowT38}}, func(c *config.Config) {
			if flow == FlowFaxdReinvite {
				c.SIP.ReinviteAfter = time.Second
			}
		})
		id := f.submit(t, "4930100", doc)
		j := f.waitJob(ctx, t, id, "finished", finished)
		if j.State != queue.Sent || j.PagesConfirmed != 2 || j.PagesTotal != 2 || j.Attempts != 1 {
			t.Fatalf("job %+v", j)
		}
		cr, err := ep.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		checkSpandsp(t, cr, 2, "far")
		if !cr.Fax.ECM || cr.Fax.RemoteIdent != config.Default().Channel.StationID {
			t.Fatalf("spandsp saw ECM %v, TSI %q", cr.Fax.ECM, cr.Fax.RemoteIdent)
		}
		checkFlow(t, flow, cr)
		if err := interop.CompareTIFF(ctx, doc, cr.Received); err != nil {
			t.Fatalf("spandsp received other pages than were submitted: %v", err)
		}
		if err := interop.CompareTIFF(ctx, f.document(t, id), cr.Received); err != nil {
			t.Fatalf("spandsp received other pages than the job's document: %v", err)
		}
		rec := waitArchive(ctx, t, f, archive.Filter{Direction: archive.Outbound})
		if rec.Result != "sent" || rec.Pages != 2 || rec.JobID != id || rec.Gateway != "spandsp" || rec.RemoteStationID != "SPANDSP E2E" {
			t.Fatalf("archive record %+v", rec)
		}
		if err := ep.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// faxdReceivesFromSpandsp: the spandsp endpoint calls faxd and sends 2
// pages; faxd answers on an inbound channel and the received fax must be
// archived with the caller's data, its TIFF identical to what spandsp sent
// and its PDF holding the same number of pages.
func faxdReceivesFromSpandsp(t *testing.T) {
	doc, _ := testDocument(t)
	interop.NeedTool(t, "pdfinfo", "poppler-utils")
	interop.Concurrent(t, flows, flowName, func(t *testing.T, flow Flow) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		f := startFaxd(t, nil, func(c *config.Config) {
			if flow == FlowFaxdReinvite {
				c.SIP.ReinviteAfter = time.Second
			}
		})
		ep := Call(t, f.sip, Options{Flow: flow, Send: doc, DID: "4930777", CallerID: "4940555"})
		cr, err := ep.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		checkSpandsp(t, cr, 2, "far")
		checkFlow(t, flow, cr)
		rec := waitArchive(ctx, t, f, archive.Filter{Direction: archive.Inbound})
		if rec.Result != "received" || rec.Pages != 2 || rec.LocalNumber != "4930777" || rec.RemoteNumber != "4940555" ||
			rec.RemoteStationID != "SPANDSP E2E" || rec.Routing != "unrouted" {
			t.Fatalf("archive record %+v", rec)
		}
		archivedPagesEqual(ctx, t, f, rec, doc, "faxd stored other pages than spandsp sent")
		pdf, err := f.s.Archive.RecordPDF(ctx, rec)
		if err != nil {
			t.Fatal(err)
		}
		if n := pdfPages(ctx, t, pdf); n != 2 {
			t.Fatalf("received PDF has %d pages", n)
		}
		if err := ep.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// waitArchive waits for the first archive record f matches.
func waitArchive(ctx context.Context, t testing.TB, fx *faxd, f archive.Filter) archive.Record {
	t.Helper()
	for {
		recs, _, err := fx.s.Archive.Search(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) > 0 {
			return recs[0]
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no archive record for %+v", f)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// pdfPages counts a PDF's pages with poppler's pdfinfo.
func pdfPages(ctx context.Context, t testing.TB, pdf []byte) int {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fax.pdf")
	if err := os.WriteFile(p, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(ctx, "pdfinfo", p).CombinedOutput()
	if err != nil {
		t.Fatalf("pdfinfo: %v\n%s", err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(l, "Pages:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	t.Fatalf("pdfinfo: no page count\n%s", out)
	return 0
}

// faxdGatewayFailures: a gateway that is busy, does not answer, or
// answers 403 or 404 gives the job the documented failure class and back-off
// (docs/sip.md, queue.retry): back to pending with run_at one first delay
// ahead (±10% jitter), or failed for good on 404. A gateway that answers 503
// or nothing at all is down: the same attempt moves on to the next gateway,
// here the spandsp endpoint, and the fax is sent.
func faxdGatewayFailures(t *testing.T) {
	doc, _ := testDocument(t)
	retry := config.Default().Queue.Retry
	type tc struct {
		name  string
		o     Options
		class queue.Class
		delay config.Duration // 0: failed for good
		next  bool            // a second, working gateway takes the call
		seen  string          // how the failing endpoint saw the call end
	}
	cases := []tc{
		{name: "486-busy", o: Options{Reject: 486}, class: queue.ClassBusy, delay: retry.Busy, seen: "rejected"},
		{name: "no-answer", o: Options{NoAnswer: true}, class: queue.ClassNoAnswer, delay: retry.NoAnswer, seen: "cancelled"},
		{name: "403", o: Options{Reject: 403}, class: queue.ClassRoute, delay: retry.Gateway, seen: "rejected"},
		{name: "404", o: Options{Reject: 404}, class: queue.ClassPermanent, seen: "rejected"},
		{name: "503-next-gateway", o: Options{Reject: 503, RetryAfter: 60}, next: true, seen: "rejected"},
		{name: "silent-next-gateway", o: Options{Silent: true}, next: true},
	}
	interop.Concurrent(t, cases, func(c tc) string { return c.name }, func(t *testing.T, c tc) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		bad := Listen(t, c.o)
		gws := []gw{{name: "failing", addr: bad.Addr(), cost: 1}}
		var good *Endpoint
		if c.next {
			good = Listen(t, Options{})
			gws = append(gws, gw{name: "spandsp", addr: good.Addr(), cost: 2})
		}
		f := startFaxd(t, gws, nil)
		id := f.submit(t, "4930100", doc)
		if c.next {
			j := f.waitJob(ctx, t, id, "finished", finished)
			if j.State != queue.Sent || j.Attempts != 1 || j.PagesConfirmed != 2 {
				t.Fatalf("job %+v", j)
			}
			cr, err := good.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			checkSpandsp(t, cr, 2, "far")
			rec := waitArchive(ctx, t, f, archive.Filter{Direction: archive.Outbound})
			if rec.Gateway != "spandsp" || rec.Result != "sent" {
				t.Fatalf("archive record %+v", rec)
			}
		} else {
			j := f.waitJob(ctx, t, id, "tried", func(j queue.Job) bool { return j.Attempts >= 1 && j.LastClass != "" && j.State != queue.Sending })
			if j.LastClass != c.class || j.Attempts != 1 {
				t.Fatalf("job %+v, want class %s", j, c.class)
			}
			if c.delay == 0 {
				if j.State != queue.Failed {
					t.Fatalf("job %+v, want failed", j)
				}
			} else {
				d := j.RunAt.Sub(j.UpdatedAt)
				if j.State != queue.Pending || d < c.delay.D()*8/10 || d > c.delay.D()*12/10 {
					t.Fatalf("job %s, run_at %v after the attempt, want pending %v ±10%%: %+v", j.State, d, c.delay.D(), j)
				}
			}
		}
		if c.seen == "" {
			return
		}
		cr, err := bad.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if cr.End != c.seen || cr.Media != nil {
			t.Fatalf("failing gateway saw %+v", cr)
		}
	})
}

// faxdFaxesItself: the node's outbound channel calls its own SIP listener
// (gateway "self"); the fax must be sent and come back in as a received fax
// with identical pages.
func faxdFaxesItself(t *testing.T) {
	doc, _ := testDocument(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	f := startFaxd(t, nil, func(c *config.Config) {
		c.Channel.Gateways = []channel.Gateway{{Name: "self", Address: channel.SelfAddress}}
		c.Channel.Routes = []channel.Route{{Prefix: "", Gateway: "self"}}
	})
	id := f.submit(t, "4930100", doc)
	j := f.waitJob(ctx, t, id, "finished", finished)
	if j.State != queue.Sent || j.PagesConfirmed != 2 || j.Attempts != 1 {
		t.Fatalf("job %+v", j)
	}
	rec := waitArchive(ctx, t, f, archive.Filter{Direction: archive.Inbound})
	if rec.Result != "received" || rec.Pages != 2 || rec.LocalNumber != "4930100" {
		t.Fatalf("inbound archive record %+v", rec)
	}
	archivedPagesEqual(ctx, t, f, rec, doc, "faxd received other pages than it sent")
}

// archivedPagesEqual checks with tiffcmp that the pages the archive holds
// for rec are the pages of the TIFF file doc.
func archivedPagesEqual(ctx context.Context, t *testing.T, f *faxd, rec archive.Record, doc, what string) {
	t.Helper()
	_, tif, err := f.s.Archive.RecordDocument(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	got := filepath.Join(t.TempDir(), "received.tif")
	if err := os.WriteFile(got, tif, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := interop.CompareTIFF(ctx, doc, got); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
