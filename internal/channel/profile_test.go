package channel

import (
	"strings"
	"testing"

	"github.com/faxd/faxd/internal/sip"
	"github.com/faxd/faxd/queue"
	"github.com/faxd/faxd/t38/t30"
)

func TestRetryLadder(t *testing.T) {
	on, off := true, false
	for _, tc := range []struct {
		name string
		g    Gateway
		ecm  bool
		step int
		want string
	}{
		{"defaults", Gateway{}, true, 0, "ECM on, up to 14400 bit/s"},
		{"step 1 turns ECM off", Gateway{}, true, 1, "ECM off, up to 14400 bit/s, retry step 1"},
		{"step 1 without ECM caps at 9600", Gateway{}, false, 1, "ECM off, up to 9600 bit/s, retry step 1"},
		{"step 2", Gateway{}, true, 2, "ECM off, up to 9600 bit/s, retry step 2"},
		{"step 3", Gateway{}, true, 3, "ECM off, up to 4800 bit/s, retry step 3"},
		{"gateway cap below the step's", Gateway{MaxBitRate: 4800}, true, 2, "ECM off, up to 4800 bit/s, retry step 2"},
		{"gateway ECM off over channel's on", Gateway{ECM: &off}, true, 0, "ECM off, up to 14400 bit/s"},
		{"gateway ECM on over channel's off", Gateway{ECM: &on}, false, 0, "ECM on, up to 14400 bit/s"},
		{"V.17 off", Gateway{V17: &off}, true, 0, "ECM on, V.17 off, up to 9600 bit/s"},
		{"ladder off keeps the profile", Gateway{RetryLadder: &off}, true, 3, "ECM on, up to 14400 bit/s"},
	} {
		if got := profileFor(tc.g, tc.ecm, tc.step).String(); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	var cfg t30.Config
	profileFor(Gateway{V17: &off}, true, 3).apply(&cfg)
	if cfg.ECM || cfg.MaxBitRate != 4800 || cfg.Modems != t30.FamilyV27ter|t30.FamilyV29 {
		t.Errorf("applied %+v", cfg)
	}
	for _, r := range []t30.Reason{t30.ReasonCannotTrain, t30.ReasonRetriesExhausted, t30.ReasonT5Expired, t30.ReasonProtocolError} {
		if !ladderTrigger(r) {
			t.Errorf("%v does not step down", r)
		}
	}
	for _, r := range []t30.Reason{t30.ReasonCallDropped, t30.ReasonT1Expired, t30.ReasonRemoteCannotReceive} {
		if ladderTrigger(r) {
			t.Errorf("%v steps down", r)
		}
	}
	if n := ladderStep(queue.Job{Metadata: map[string]any{"result": map[string]any{"ladder_next": 2.0}}}); n != 2 {
		t.Errorf("ladder step from the job's result: %d", n)
	}
	if n := ladderStep(queue.Job{Metadata: map[string]any{"result": map[string]any{"ladder_next": 9.0}}}); n != maxLadderStep {
		t.Errorf("ladder step past the top: %d", n)
	}
	if n := ladderStep(queue.Job{}); n != 0 {
		t.Errorf("no result: %d", n)
	}
}

func TestProfileValidateAndApply(t *testing.T) {
	v := 3
	p := Profile{AudioFirst: true, VBD: true, ReinviteWait: "2s", T38Version: &v, T38MaxDatagram: 160, T38ErrorCorrection: "fec",
		MaxBitRate: 9600, Probe: "off", ProbeInterval: "1m"}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	var g Gateway
	if err := p.Apply(&g); err != nil || !g.AudioFirst || !g.VBD || g.ReinviteWait.String() != "2s" || *g.T38Version != 3 ||
		g.t38Profile().MaxDatagram != 160 || g.ProbePolicy().Interval.String() != "1m0s" {
		t.Fatalf("applied %+v (%v)", g, err)
	}
	bad, no := 7, false
	err := Profile{ReinviteWait: "soon", T38Version: &bad, MaxBitRate: 9000, T38ErrorCorrection: "x", Probe: "ping", V17: &no}.Validate()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{`reinvite_wait "soon"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	err = Profile{T38Version: &bad, MaxBitRate: 12000, T38ErrorCorrection: "x", Probe: "ping", V17: &no}.Validate()
	for _, want := range []string{"t38_version 7", "t38_error_correction", `probe "ping"`, "with v17 off"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

func TestProfileMedia(t *testing.T) {
	for _, m := range []string{"", "t38", "audio", "auto", "AUTO"} {
		if err := (Profile{Media: m}).Validate(); err != nil {
			t.Errorf("media %q refused: %v", m, err)
		}
	}
	err := Profile{Media: "fax"}.Validate()
	if err == nil || !strings.Contains(err.Error(), `media "fax": must be t38, audio or auto`) {
		t.Fatalf("media fax: %v", err)
	}
	var g Gateway
	if err := (Profile{Media: "auto"}).Apply(&g); err != nil || g.mediaMode() != sip.MediaAuto {
		t.Fatalf("Apply: %v %q", err, g.Media)
	}
	if (Gateway{}).mediaMode() != sip.MediaT38 {
		t.Fatal("unset media is not t38")
	}
}
