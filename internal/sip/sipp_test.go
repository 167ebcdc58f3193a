package sip

import (
	"context"
	"errors"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// TestSippGatewayCallsUs drives our UA from sipp, an independent SIP
// implementation, playing a gateway that offers T.38 and hangs up.
func TestSippGatewayCallsUs(t *testing.T) {
	sipp, err := exec.LookPath("sipp")
	if err != nil {
		t.Skip("sipp (Debian package sip-tester) is not installed")
	}
	t.Parallel()
	u := newTestUA(t, nil)
	ans := newAnswering(Accept)
	u.SetAdmission(ans)
	ap, _ := u.Addr("udp")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sippPort := strconv.Itoa(int(portBase.Add(40)))
	cmd := exec.CommandContext(ctx, sipp, "-sf", "testdata/sipp_uac_t38.xml", "-m", "1",
		"-i", "127.0.0.1", "-p", sippPort, "-mp", strconv.Itoa(int(portBase.Add(40))),
		"-timeout", "20s", "-timeout_error", "-nd", "-trace_err", "-error_file", t.TempDir()+"/err.log",
		ap.String())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sipp failed: %v\n%s", err, tail(out))
	}
	c := waitCall(t, ans)
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("sipp's BYE did not end the call")
	}
	if !errors.Is(c.Err(), ErrFarEndHangup) {
		t.Fatalf("end reason %v", c.Err())
	}
	if m := c.Media(); !m.T38 || m.Params.MaxDatagram != 200 || m.Remote.Addr().String() != "127.0.0.1" {
		t.Fatalf("media from sipp's offer: %+v", m)
	}
	ans.mu.Lock()
	did := ans.in[0].DID
	ans.mu.Unlock()
	if did != "4930555" {
		t.Fatalf("DID %q", did)
	}
	if u.Pool().Leased() != 0 {
		t.Fatal("ports leaked")
	}
}

func tail(b []byte) string {
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}
