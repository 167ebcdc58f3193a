package e2e

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faxd/faxd/archive"
	"github.com/faxd/faxd/internal/calltrace"
	"github.com/faxd/faxd/internal/channel"
	"github.com/faxd/faxd/internal/config"
	"github.com/faxd/faxd/queue"
	"github.com/faxd/faxd/t38/interop"
)

// TestAudioCallFlows runs two faxd nodes that fax each other through SIP
// over G.711 audio: node A's gateway to B is media auto, node B's gateway
// to A is media audio (it never offers T.38 and refuses it with 488).
//
//   - A to B: A offers audio, re-INVITEs to T.38, gets 488 and falls back
//     to an audio fax; B answers with its audio modems.
//   - B to A: B offers audio only and never re-INVITEs; A (inbound, auto)
//     re-INVITEs after the wait, gets 488 and receives over audio.
//
// Each way the job is sent, the received pages are identical (tiffcmp -t)
// and the job, the archive record and the call traces say "audio PCMU".
func TestAudioCallFlows(t *testing.T) {
	t.Parallel()
	peer := interop.BuildPeer(t)
	doc := filepath.Join(t.TempDir(), "doc.tif")
	if err := interop.MakeTestTIFF(context.Background(), peer, doc, interop.TIFFOptions{Pages: 1, Rows: 600, Standard: true, Seed: 11}); err != nil {
		t.Fatal(err)
	}
	portA, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	portB, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	node := func(listen, peerPort int, media string) func(*config.Config) {
		return func(c *config.Config) {
			c.SIP.ListenUDP = "127.0.0.1:" + strconv.Itoa(listen)
			c.SIP.Codecs = []string{"PCMU"}
			c.Channel.Gateways = []channel.Gateway{{Name: "peer", Address: "127.0.0.1:" + strconv.Itoa(peerPort),
				Media: media, ReinviteWait: time.Second}}
			c.Channel.Routes = []channel.Route{{Prefix: "", Gateway: "peer"}}
		}
	}
	a := startFaxd(t, nil, node(portA, portB, "auto"))
	b := startFaxd(t, nil, node(portB, portA, "audio"))

	for _, tc := range []struct {
		name     string
		from, to *faxd
	}{{"AutoToAudio", a, b}, {"AudioToAuto", b, a}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
			defer cancel()
			id := tc.from.submit(t, "4930100", doc)
			j := tc.from.waitJob(ctx, t, id, "finished", finished)
			if j.State != queue.Sent || j.PagesConfirmed != 1 {
				t.Fatalf("job %+v", j)
			}
			res, _ := j.Metadata["result"].(map[string]any)
			if res["media"] != "audio PCMU" {
				t.Fatalf("job result says media %v, want audio PCMU: %+v", res["media"], res)
			}
			// The trace is stored after the job's result, in a write of its own.
			tr := waitStoredTrace(ctx, t, "outbound", func() (calltrace.Trace, error) {
				return calltrace.NewStore(tc.from.s.DB.Queue).ForAttempt(ctx, id, j.Attempts)
			})
			if tr.Media() != "audio PCMU" {
				t.Fatalf("outbound call trace media %q", tr.Media())
			}
			if tc.from == a && !traceHas(tr, "audio_fax T.38 not agreed: far end refused T.38 (488)") {
				t.Fatalf("outbound trace does not show the fall-back after 488: %+v", tr.Events)
			}
			rec := waitArchive(ctx, t, tc.to, archive.Filter{Direction: archive.Inbound})
			if rec.Result != "received" || rec.Pages != 1 || rec.Metadata["media"] != "audio PCMU" {
				t.Fatalf("inbound archive record %+v", rec)
			}
			archivedPagesEqual(ctx, t, tc.to, rec, doc, "pages received over audio differ from those sent")
			// The trace is stored right after the archive record.
			in := waitStoredTrace(ctx, t, "inbound", func() (calltrace.Trace, error) {
				return calltrace.NewStore(tc.to.s.DB.Queue).ForReceived(ctx, strings.TrimPrefix(rec.Key, rec.Source+"/"))
			})
			if in.Media() != "audio PCMU" {
				t.Fatalf("inbound call trace media %q", in.Media())
			}
		})
	}
}

// traceHas reports whether a SIP step of tr reads detail.
func traceHas(tr calltrace.Trace, detail string) bool {
	for _, ev := range tr.Events {
		if ev.Kind == calltrace.KindSIP && ev.Detail == detail {
			return true
		}
	}
	return false
}

// waitStoredTrace polls get until a trace is stored or ctx ends: traces are
// written after the result they belong to.
func waitStoredTrace(ctx context.Context, t *testing.T, what string, get func() (calltrace.Trace, error)) calltrace.Trace {
	t.Helper()
	for {
		tr, err := get()
		if err == nil {
			return tr
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s call trace: %v", what, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
