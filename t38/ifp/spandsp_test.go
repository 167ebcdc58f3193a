package ifp

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// spandspOracle builds testdata/spandsp_ifp.c against the installed
// libspandsp and keeps it running; each query is one line in, one line out.
type spandspOracle struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func startSpandsp(t *testing.T) *spandspOracle {
	t.Helper()
	if _, err := os.Stat("/usr/include/spandsp/t38_core.h"); err != nil {
		t.Skip("libspandsp-dev not installed (/usr/include/spandsp/t38_core.h missing)")
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not installed")
	}
	bin := filepath.Join(t.TempDir(), "spandsp_ifp")
	if out, err := exec.Command(gcc, "-O1", "-o", bin, "testdata/spandsp_ifp.c", "-lspandsp").CombinedOutput(); err != nil {
		t.Fatalf("building spandsp oracle: %v\n%s", err, out)
	}
	o := &spandspOracle{cmd: exec.Command(bin)}
	o.in, err = o.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := o.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	o.out = bufio.NewScanner(stdout)
	o.out.Buffer(make([]byte, 1<<20), 1<<20)
	if err := o.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		o.in.Close()
		o.cmd.Wait()
	})
	return o
}

// ask sends one command and returns (ok, rest of the answer line).
func (o *spandspOracle) ask(t *testing.T, cmd string) (bool, string) {
	t.Helper()
	if _, err := fmt.Fprintln(o.in, cmd); err != nil {
		t.Fatal(err)
	}
	if !o.out.Scan() {
		t.Fatalf("oracle died after %q: %v", cmd, o.out.Err())
	}
	ok, rest, _ := strings.Cut(o.out.Text(), " ")
	return ok == "ok", rest
}

// oracleCases lists every indicator, every data type with every field type
// (with and without data), and multi-field packets.
func oracleCases() []Packet {
	var ps []Packet
	for i := NoSignal; i <= MaxIndicator; i++ {
		ps = append(ps, Packet{Indicator: i})
	}
	for d := V21; d <= MaxDataType; d++ {
		for f := HDLCData; f <= MaxFieldType; f++ {
			ps = append(ps, NewDataP(d, Field{Type: f}))
			ps = append(ps, NewDataP(d, Field{f, []byte{0xff, byte(f), byte(d)}}))
		}
	}
	ps = append(ps,
		NewDataP(V21, Field{HDLCData, []byte{0xff, 0xc8, 0x01}}, Field{Type: HDLCFCSOK}),
		NewDataP(V21, Field{HDLCData, []byte{0xff}}, Field{Type: HDLCFCSOKSigEnd}),
		NewDataP(V17_14400, Field{T4NonECMData, rep(0x0f, 54)}, Field{T4NonECMSigEnd, []byte{0x80}}),
		NewDataP(V29_9600, Field{HDLCData, rep(0x3c, 300)}, Field{Type: HDLCFCSBad}, Field{HDLCData, []byte{1}}),
		NewDataP(V21, Field{HDLCData, []byte{1}}, Field{CMMessage, []byte{2}}, Field{JMMessage, []byte{3}}, Field{CIMessage, []byte{4}}, Field{V34Rate, []byte{5}}),
		// A data-less field before another one: packed in v0.
		NewDataP(V21, Field{Type: HDLCFCSOK}, Field{HDLCData, []byte{0xff}}),
		NewDataP(V21, Field{Type: HDLCFCSOK}, Field{Type: HDLCFCSOKSigEnd}),
		NewDataP(V17_7200, Field{Type: HDLCFCSOK}, Field{Type: HDLCSigEnd}, Field{T4NonECMData, []byte{7, 7}}, Field{Type: T4NonECMSigEnd}),
	)
	return ps
}

func txCommand(v int, p *Packet) string {
	if !p.IsData {
		return fmt.Sprintf("tx %d ind %d", v, p.Indicator)
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "tx %d data %d", v, p.DataType)
	for _, f := range p.Fields {
		fmt.Fprintf(&sb, " %d", f.Type)
		if len(f.Data) > 0 {
			fmt.Fprintf(&sb, ":%x", f.Data)
		}
	}
	return sb.String()
}

// v0PackedDiffers reports whether spandsp's v0 encoder, which gives a
// data-less field a whole octet, writes p differently from aligned PER.
func v0PackedDiffers(v int, p *Packet) bool {
	if v != 0 {
		return false
	}
	for k := 0; k+1 < len(p.Fields); k++ {
		if len(p.Fields[k].Data) == 0 {
			return true
		}
	}
	return false
}

// Our Marshal must produce spandsp's bytes, and our Unmarshal must read
// spandsp's bytes back into the packet spandsp was asked to send.
func TestSpandspEncoderAgrees(t *testing.T) {
	o := startSpandsp(t)
	checked := 0
	for _, v := range []int{0, 1, 3} {
		for _, p := range oracleCases() {
			ok, got := o.ask(t, txCommand(v, &p))
			ours, err := p.Marshal(v)
			if !ok {
				if err == nil {
					t.Errorf("v%d %v: spandsp refuses, we encode % x", v, &p, ours)
				}
				continue
			}
			if err != nil {
				t.Errorf("v%d %v: spandsp sends %s, we fail: %v", v, &p, got, err)
				continue
			}
			theirs, herr := hex.DecodeString(got)
			if herr != nil || len(theirs) == 0 {
				t.Fatalf("v%d %v: oracle answer %q", v, &p, got)
			}
			if v0PackedDiffers(v, &p) {
				if hex.EncodeToString(ours) == got {
					t.Errorf("v%d %v: expected spandsp's unpacked layout to differ, both % x", v, &p, ours)
				}
			} else if hex.EncodeToString(ours) != got {
				t.Errorf("v%d %v: Marshal = %x, spandsp = %s", v, &p, ours, got)
			}
			var q Packet
			if err := q.Unmarshal(theirs, v); err != nil {
				t.Errorf("v%d Unmarshal(spandsp %s): %v", v, got, err)
			} else if !packetsEqual(&p, &q) {
				t.Errorf("v%d Unmarshal(spandsp %s) = %v, want %v", v, got, &q, &p)
			}
			checked++
		}
	}
	if checked < 500 {
		t.Fatalf("only %d packets compared", checked)
	}
}

// expectedEvents renders p the way the oracle prints spandsp's rx handler
// calls: one event per indicator or field.
func expectedEvents(p *Packet) string {
	if !p.IsData {
		return fmt.Sprintf("ind=%d", p.Indicator)
	}
	ev := make([]string, len(p.Fields))
	for k, f := range p.Fields {
		ev[k] = fmt.Sprintf("data=%d/%d:%x", p.DataType, f.Type, f.Data)
	}
	return strings.Join(ev, " ")
}

// spandsp's decoder must read our encodings as the packets we meant.
func TestSpandspDecoderAgrees(t *testing.T) {
	o := startSpandsp(t)
	checked := 0
	for _, v := range []int{0, 1, 3} {
		for _, p := range oracleCases() {
			ours, err := p.Marshal(v)
			if err != nil {
				continue // refused encodings are covered above
			}
			ok, got := o.ask(t, fmt.Sprintf("rx %d %x", v, ours))
			if !ok {
				t.Errorf("v%d spandsp rejects our %v = % x (events %q)", v, &p, ours, got)
				continue
			}
			if want := expectedEvents(&p); got != want {
				t.Errorf("v%d spandsp decodes our % x as %q, want %q", v, ours, got, want)
			}
			checked++
		}
	}
	if checked < 500 {
		t.Fatalf("only %d packets compared", checked)
	}
}
