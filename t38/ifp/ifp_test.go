package ifp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func rep(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }

// Packets observed on the wire from spandsp 0.0.6 (reference notes 3.2 and
// 8.3), in both syntaxes where they differ.
var goldenTests = []struct {
	name    string
	version int
	hex     string
	pkt     Packet
}{
	{"no-signal", 0, "00", Packet{Indicator: NoSignal}},
	{"cng", 0, "02", Packet{Indicator: CNG}},
	{"ced", 0, "04", Packet{Indicator: CED}},
	{"v21-preamble", 0, "06", Packet{Indicator: V21Preamble}},
	{"v17-14400-short", 0, "1c", Packet{Indicator: V17_14400ShortTraining}},
	{"v17-14400-long", 3, "1e", Packet{Indicator: V17_14400LongTraining}},
	{"v8-ansam v3", 3, "2000", Packet{Indicator: V8Ansam}},
	{"v33-14400 v3", 3, "2180", Packet{Indicator: V33_14400Training}},
	{"v21 hdlc-data ff", 0, "c0 01 80 0000 ff", Packet{IsData: true, DataType: V21, Fields: []Field{{HDLCData, []byte{0xff}}}}},
	{"v21 fcs-OK v0", 0, "c0 01 20", Packet{IsData: true, DataType: V21, Fields: []Field{{Type: HDLCFCSOK}}}},
	{"v21 fcs-OK v1", 1, "c0 01 10", Packet{IsData: true, DataType: V21, Fields: []Field{{Type: HDLCFCSOK}}}},
	{"v21 fcs-OK-sig-end v0", 0, "c0 01 40", Packet{IsData: true, DataType: V21, Fields: []Field{{Type: HDLCFCSOKSigEnd}}}},
	{"v21 fcs-OK-sig-end v3", 3, "c0 01 20", Packet{IsData: true, DataType: V21, Fields: []Field{{Type: HDLCFCSOKSigEnd}}}},
	{"v17 t4 data v0", 0, "d0 01 e0 0035" + strings.Repeat("00", 54), Packet{IsData: true, DataType: V17_14400, Fields: []Field{{T4NonECMData, rep(0, 54)}}}},
	{"v17 t4 sig-end v0", 0, "d0 01 f0 0001 abcd", Packet{IsData: true, DataType: V17_14400, Fields: []Field{{T4NonECMSigEnd, []byte{0xab, 0xcd}}}}},
	{"v17 t4 data v2", 2, "d0 01 b0 0000 00", Packet{IsData: true, DataType: V17_14400, Fields: []Field{{T4NonECMData, []byte{0}}}}},
	{"v17 t4 sig-end v3", 3, "d0 01 b8 0000 01", Packet{IsData: true, DataType: V17_14400, Fields: []Field{{T4NonECMSigEnd, []byte{1}}}}},
	{"v17 hdlc-data ecm", 0, "d0 01 80 0035" + strings.Repeat("5a", 54), Packet{IsData: true, DataType: V17_14400, Fields: []Field{{HDLCData, rep(0x5a, 54)}}}},
	{"v17 fcs-OK v3", 3, "d0 01 10", Packet{IsData: true, DataType: V17_14400, Fields: []Field{{Type: HDLCFCSOK}}}},
	{"v17 fcs-OK-sig-end v3", 3, "d0 01 20", Packet{IsData: true, DataType: V17_14400, Fields: []Field{{Type: HDLCFCSOKSigEnd}}}},
	// Multi-field packets. v0: a field without data leaves half an octet
	// for the next field's presence bit and type.
	{"v0 data+fcs-OK", 0, "c0 02 80 0000 ff 20", Packet{IsData: true, DataType: V21, Fields: []Field{{HDLCData, []byte{0xff}}, {Type: HDLCFCSOK}}}},
	{"v0 fcs-OK+fcs-OK-sig-end packed", 0, "c0 02 24", Packet{IsData: true, DataType: V21, Fields: []Field{{Type: HDLCFCSOK}, {Type: HDLCFCSOKSigEnd}}}},
	{"v0 fcs-OK+data packed", 0, "c0 02 28 0000 ff", Packet{IsData: true, DataType: V21, Fields: []Field{{Type: HDLCFCSOK}, {HDLCData, []byte{0xff}}}}},
	{"v0 three no-data", 0, "c0 03 24 10", Packet{IsData: true, DataType: V21, Fields: []Field{{Type: HDLCFCSOK}, {Type: HDLCFCSOKSigEnd}, {Type: HDLCSigEnd}}}},
	{"v3 data+fcs-OK-sig-end", 3, "c0 02 80 0001 ff13 20", Packet{IsData: true, DataType: V21, Fields: []Field{{HDLCData, []byte{0xff, 0x13}}, {Type: HDLCFCSOKSigEnd}}}},
	{"v3 fcs-OK+data", 3, "c0 02 10 80 0000 ff", Packet{IsData: true, DataType: V21, Fields: []Field{{Type: HDLCFCSOK}, {HDLCData, []byte{0xff}}}}},
	// Version 3 extensions, byte layouts as spandsp 0.0.6 writes them.
	{"v3 cm-message", 3, "c0 01 c000 0001 0102", Packet{IsData: true, DataType: V21, Fields: []Field{{CMMessage, []byte{1, 2}}}}},
	{"v3 jm-message", 3, "c0 01 c040 0001 0102", Packet{IsData: true, DataType: V21, Fields: []Field{{JMMessage, []byte{1, 2}}}}},
	{"v3 ci-message empty", 3, "c0 01 4080", Packet{IsData: true, DataType: V21, Fields: []Field{{Type: CIMessage}}}},
	{"v3 v34rate", 3, "c0 01 c0c0 0000 01", Packet{IsData: true, DataType: V21, Fields: []Field{{V34Rate, []byte{1}}}}},
	{"v3 v8 data type", 3, "e000 01 80 0000 01", Packet{IsData: true, DataType: V8, Fields: []Field{{HDLCData, []byte{1}}}}},
	{"v3 v33-14400 data type", 3, "e140 01 b0 0000 07", Packet{IsData: true, DataType: V33_14400, Fields: []Field{{T4NonECMData, []byte{7}}}}},
	{"data without data-field", 0, "50", Packet{IsData: true, DataType: V17_14400}},
	{"256-octet field", 3, "d0 01 80 00ff" + strings.Repeat("11", 256), Packet{IsData: true, DataType: V17_14400, Fields: []Field{{HDLCData, rep(0x11, 256)}}}},
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenTests {
		t.Run(tc.name, func(t *testing.T) {
			want := mustHex(t, tc.hex)
			got, err := tc.pkt.Marshal(tc.version)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Marshal(v%d) = % x, want % x", tc.version, got, want)
			}
			var p Packet
			if err := p.Unmarshal(want, tc.version); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if !packetsEqual(&p, &tc.pkt) {
				t.Errorf("Unmarshal = %v, want %v", &p, &tc.pkt)
			}
		})
	}
}

// spandsp's v0 encoder gives a data-less field a whole octet even when
// another field follows; the decoder accepts that layout as a fallback.
func TestUnmarshalV0UnpackedFallback(t *testing.T) {
	var p Packet
	if err := p.Unmarshal(mustHex(t, "c0 02 20 80 0000 ff"), 0); err != nil {
		t.Fatal(err)
	}
	want := Packet{IsData: true, DataType: V21, Fields: []Field{{Type: HDLCFCSOK}, {HDLCData, []byte{0xff}}}}
	if !packetsEqual(&p, &want) {
		t.Fatalf("got %v want %v", &p, &want)
	}
	if err := p.Unmarshal(mustHex(t, "c0 02 20 10"), 0); err != nil {
		t.Fatal(err)
	}
	want.Fields = []Field{{Type: HDLCFCSOK}, {Type: HDLCSigEnd}}
	if !packetsEqual(&p, &want) {
		t.Fatalf("got %v want %v", &p, &want)
	}
}

func TestUnmarshalErrors(t *testing.T) {
	tests := []struct {
		name    string
		version int
		hex     string
		want    error
	}{
		{"empty", 0, "", ErrTruncated},
		{"bad version", 4, "00", ErrVersion},
		{"negative version", -1, "00", ErrVersion},
		{"ext indicator in v0", 0, "2000", ErrExtensionInV0},
		{"ext data type in v0", 0, "e000 01 80 0000 01", ErrExtensionInV0},
		{"ext indicator truncated", 3, "20", ErrTruncated},
		{"unknown ext indicator", 3, "2200", ErrUnknownValue},
		{"large ext indicator", 3, "3000", ErrUnknownValue},
		{"unknown root data type", 0, "d2", ErrUnknownValue},
		{"unknown ext data type", 3, "e180", ErrUnknownValue},
		{"indicator with data field", 0, "82", ErrMalformed},
		{"indicator trailing", 0, "0200", ErrTrailing},
		{"ext indicator trailing", 3, "200000", ErrTrailing},
		{"data header trailing", 0, "4000", ErrTrailing},
		{"no count", 0, "c0", ErrTruncated},
		{"zero fields", 0, "c000", ErrMalformed},
		{"fragmented count", 0, "c0c1", ErrBadLength},
		{"count exceeds packet", 0, "c0 05 20", ErrTruncated},
		{"missing field", 3, "c0 02 10", ErrTruncated},
		{"data length truncated", 0, "c0 01 80 00", ErrTruncated},
		{"data truncated", 0, "c0 01 80 0002 ffff", ErrTruncated},
		{"data length too big", 3, "c0 01 80 ffff", ErrBadLength},
		{"trailing after field", 0, "c0 01 80 0000 ff 00 00", ErrTrailing},
		{"trailing after v3 field", 3, "c0 01 10 00", ErrTrailing},
		{"ext field truncated", 3, "c0 01 40", ErrTruncated},
		{"unknown ext field", 3, "c0 01 4100", ErrUnknownValue},
		{"ext field large flag", 3, "c0 01 6000", ErrUnknownValue},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p Packet
			err := p.Unmarshal(mustHex(t, tc.hex), tc.version)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Unmarshal(% s) err = %v, want %v", tc.hex, err, tc.want)
			}
		})
	}
}

func TestMarshalErrors(t *testing.T) {
	tests := []struct {
		name    string
		version int
		pkt     Packet
		want    error
	}{
		{"ext indicator v0", 0, Packet{Indicator: V8Signal}, ErrExtensionInV0},
		{"unknown indicator", 3, Packet{Indicator: 23}, ErrUnknownValue},
		{"negative indicator", 3, Packet{Indicator: -1}, ErrUnknownValue},
		{"ext data v0", 0, Packet{IsData: true, DataType: V34PriCh}, ErrExtensionInV0},
		{"unknown data", 3, Packet{IsData: true, DataType: 15}, ErrUnknownValue},
		{"ext field v0", 0, NewDataP(V21, Field{Type: CMMessage}), ErrExtensionInV0},
		{"unknown field v0", 0, NewDataP(V21, Field{Type: 12}), ErrUnknownValue},
		{"unknown field v3", 3, NewDataP(V21, Field{Type: 12}), ErrUnknownValue},
		{"field too long", 3, NewDataP(V21, Field{HDLCData, make([]byte, MaxFieldData+1)}), ErrBadLength},
		{"bad version", 7, Packet{}, ErrVersion},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.pkt.Marshal(tc.version)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func NewDataP(dt DataType, f ...Field) Packet { return *NewData(dt, f...) }

// Every value of every enumeration survives a round trip in every version
// that allows it, and is refused in version 0 when it is an extension.
func TestRoundTripAllValues(t *testing.T) {
	for v := 0; v <= MaxVersion; v++ {
		for i := NoSignal; i <= MaxIndicator; i++ {
			roundTrip(t, v, Packet{Indicator: i}, v == 0 && i >= firstExtIndicator)
		}
		for d := V21; d <= MaxDataType; d++ {
			for f := HDLCData; f <= MaxFieldType; f++ {
				bad := v == 0 && (d >= firstExtDataType || f >= firstExtFieldType)
				roundTrip(t, v, NewDataP(d, Field{Type: f}), bad)
				roundTrip(t, v, NewDataP(d, Field{f, []byte{1, 2, 3}}), bad)
				roundTrip(t, v, NewDataP(d, Field{Type: f}, Field{HDLCFCSOK, nil}, Field{f, []byte{9}}), bad)
			}
		}
	}
}

func roundTrip(t *testing.T, v int, p Packet, wantErr bool) {
	t.Helper()
	b, err := p.Marshal(v)
	if wantErr {
		if err == nil {
			t.Errorf("v%d Marshal(%v) succeeded, want error", v, &p)
		}
		return
	}
	if err != nil {
		t.Errorf("v%d Marshal(%v): %v", v, &p, err)
		return
	}
	var q Packet
	if err := q.Unmarshal(b, v); err != nil {
		t.Errorf("v%d Unmarshal(% x) from %v: %v", v, b, &p, err)
		return
	}
	if !packetsEqual(&p, &q) {
		t.Errorf("v%d round trip %v -> % x -> %v", v, &p, b, &q)
	}
}

func packetsEqual(a, b *Packet) bool {
	if a.IsData != b.IsData || len(a.Fields) != len(b.Fields) {
		return false
	}
	if !a.IsData {
		return a.Indicator == b.Indicator
	}
	if a.DataType != b.DataType {
		return false
	}
	for k := range a.Fields {
		if a.Fields[k].Type != b.Fields[k].Type || !bytes.Equal(a.Fields[k].Data, b.Fields[k].Data) {
			return false
		}
	}
	return true
}

func TestString(t *testing.T) {
	p := NewData(V21, Field{HDLCData, []byte{0xff, 0xc8}}, Field{Type: HDLCFCSOKSigEnd})
	if got, want := p.String(), "v21 [hdlc-data(2)=ffc8 hdlc-fcs-OK-sig-end]"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if got := NewIndicator(V17_14400LongTraining).String(); got != "v17-14400-long-training" {
		t.Errorf("indicator String = %q", got)
	}
	if got := Indicator(99).String(); got != "indicator(99)" {
		t.Errorf("unknown indicator String = %q", got)
	}
	long := NewData(V17_14400, Field{T4NonECMData, rep(1, 20)})
	if got := long.String(); !strings.HasSuffix(got, "(20)=0101010101010101...]") {
		t.Errorf("long String = %q", got)
	}
}

func TestUnmarshalAliasesInput(t *testing.T) {
	b := mustHex(t, "c0 01 80 0000 ff")
	var p Packet
	if err := p.Unmarshal(b, 0); err != nil {
		t.Fatal(err)
	}
	// Appending to a field must not write into the caller's buffer.
	_ = append(p.Fields[0].Data, 1)
	if !reflect.DeepEqual(b, mustHex(t, "c0 01 80 0000 ff")) {
		t.Fatal("input modified")
	}
}

func FuzzUnmarshal(f *testing.F) {
	for _, tc := range goldenTests {
		f.Add(mustHex(f, tc.hex), uint8(tc.version))
	}
	f.Add(mustHex(f, "c0 02 20 80 0000 ff"), uint8(0))
	f.Fuzz(func(t *testing.T, b []byte, ver uint8) {
		v := int(ver % (MaxVersion + 1))
		var p Packet
		if err := p.Unmarshal(b, v); err != nil {
			return
		}
		enc, err := p.Marshal(v)
		if err != nil {
			t.Fatalf("decoded %v from % x but cannot encode: %v", &p, b, err)
		}
		var q Packet
		if err := q.Unmarshal(enc, v); err != nil {
			t.Fatalf("re-decode of % x (from % x): %v", enc, b, err)
		}
		if !packetsEqual(&p, &q) {
			t.Fatalf("v%d % x -> %v -> % x -> %v", v, b, &p, enc, &q)
		}
		enc2, _ := q.Marshal(v)
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable: % x vs % x", enc, enc2)
		}
	})
}

func BenchmarkMarshalT4(b *testing.B) {
	p := NewData(V17_14400, Field{T4NonECMData, rep(0x55, 54)})
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = p.AppendMarshal(buf[:0], 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshalT4(b *testing.B) {
	enc, _ := NewData(V17_14400, Field{T4NonECMData, rep(0x55, 54)}).Marshal(3)
	var p Packet
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Unmarshal(enc, 3); err != nil {
			b.Fatal(err)
		}
	}
}

// Len finds the end of a packet followed by padding, as FEC repair leaves it.
func TestLen(t *testing.T) {
	for _, tc := range goldenTests {
		b := mustHex(t, tc.hex)
		padded := append(append([]byte(nil), b...), 0, 0, 0)
		n, err := Len(padded, tc.version)
		if err != nil || n != len(b) {
			t.Errorf("%s: Len = %d, %v; want %d", tc.name, n, err, len(b))
		}
	}
	if _, err := Len(mustHex(t, "c0 01 80 0005 ff"), 0); !errors.Is(err, ErrTruncated) {
		t.Errorf("Len of truncated packet: %v", err)
	}
}
