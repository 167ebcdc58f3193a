package t30

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Frames observed from spandsp 0.0.6 (reference notes 3.4, 5.3, 5.4).
func TestDISGolden(t *testing.T) {
	c, err := DecodeCaps(unhex(t, "04 EE F8 C4 80 91 80 80 80 18"))
	if err != nil {
		t.Fatal(err)
	}
	want := Caps{T38: true, CanReceive: true, Modems: AllModems, Fine: true, MR: true, MaxWidth: WidthA4,
		MaxLength: LengthUnlimited, ScanTimeMs: 0, ECM: true, MMR: true, Superfine: true}
	c.Raw = nil
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %+v\nwant %+v", c, want)
	}
	// Non-ECM DIS as it appears inside T.38 (bit-reversed octets).
	f, err := ParseFrame(ReverseBits(unhex(t, "FF C8 01 20 77 1F 01 01 89 01 01 01 18")))
	if err != nil || f.FCF != FCFDIS || !f.Final {
		t.Fatalf("%+v %v", f, err)
	}
	c, _ = DecodeCaps(f.FIF)
	if c.ECM || c.MMR || !c.Superfine || !c.MR || c.Modems != AllModems {
		t.Fatalf("%+v", c)
	}
	// Our own encoding round-trips.
	c.Raw = nil
	c2, _ := DecodeCaps(c.Encode())
	c2.Raw = nil
	if !reflect.DeepEqual(c2, c) {
		t.Fatalf("round trip %+v vs %+v", c2, c)
	}
}

func TestDCSGolden(t *testing.T) {
	for _, tc := range []struct {
		fif string
		p   Params
	}{
		{"00 E2 78", Params{Receive: true, Modem: V17_14400, Resolution: ResFine, Coding: CodingMR, Length: LengthUnlimited}},
		{"00 62 F8 44", Params{Receive: true, Modem: V17_14400, Resolution: ResFine, Coding: CodingMMR, Length: LengthUnlimited, ECM: true}},
	} {
		got := tc.p.Encode()
		if !bytes.Equal(got, unhex(t, tc.fif)) {
			t.Errorf("encode %+v = % X, want %s", tc.p, got, tc.fif)
		}
		p, err := DecodeParams(unhex(t, tc.fif))
		if err != nil {
			t.Fatal(err)
		}
		p.Raw = nil
		if !reflect.DeepEqual(p, tc.p) {
			t.Errorf("decode %s = %+v", tc.fif, p)
		}
	}
	// Every modem and resolution round-trips.
	for _, m := range fallback {
		for _, r := range []Resolution{ResStandard, ResFine, ResSuperfine} {
			p := Params{Receive: true, Modem: m, Resolution: r, Coding: CodingMH, Width: WidthB4, ScanTimeMs: 10, ECM: true, ECM64: true}
			q, err := DecodeParams(p.Encode())
			q.Raw = nil
			if err != nil || !reflect.DeepEqual(q, p) {
				t.Fatalf("%+v -> %+v %v", p, q, err)
			}
		}
	}
}

func TestFrameGolden(t *testing.T) {
	for _, tc := range []struct {
		got  []byte
		t38  string
		name string
	}{
		{buildFrame(FCFCFR, false, true, nil), "FF C8 21", "CFR"},
		{buildFrame(FCFMCF, false, true, nil), "FF C8 31", "MCF"},
		{buildFrame(FCFDCN, true, true, nil), "FF C8 DF", "DCN"},
		{buildFrame(FCFPPS, true, true, PPS{FCF2: FCFMPS, Page: 0, Block: 0, Frames: 40}.fif(true)), "FF C8 FD F2 00 00 E4", "PPS"},
		{FCD(1, []byte{0x12}), "FF C0 60 80 12", "FCD"},
		{RCP(), "FF C0 61", "RCP"},
	} {
		if r := ReverseBits(tc.got); !bytes.Equal(r, unhex(t, tc.t38)) {
			t.Errorf("%s: % X, want %s", tc.name, r, tc.t38)
		}
		f, _ := ParseFrame(tc.got)
		if FCFName(f.FCF) != tc.name {
			t.Errorf("name %s", FCFName(f.FCF))
		}
	}
	pps, err := ParsePPS(unhex(t, "4F 00 00 27"))
	if err != nil || pps != (PPS{FCF2: FCFMPS, Frames: 40}) {
		t.Fatalf("%+v %v", pps, err)
	}
	var m PPRMap
	m.Set(0)
	m.Set(9)
	m.Set(255)
	fif := buildFrame(FCFPPR, false, true, m[:])[3:]
	if fif[0] != 0x01 || fif[1] != 0x02 || fif[31] != 0x80 {
		t.Fatalf("PPR map % X", fif)
	}
	back, _ := ParsePPR(fif)
	if back.Count() != 3 || !back.Has(9) || back.Has(8) {
		t.Fatalf("PPR parse %v", back)
	}
	n, d, err := ParseFCD(FCD(7, []byte{0x80, 0x01}))
	if err != nil || n != 7 || !bytes.Equal(d, []byte{0x80, 0x01}) {
		t.Fatalf("FCD %d % X %v", n, d, err)
	}
	if _, err := ParsePPS([]byte{1, 2}); err == nil {
		t.Fatal("short PPS accepted")
	}
}

func TestIdent(t *testing.T) {
	// Last character first, padding after the first character: a fax
	// machine sends 123-456-7890 as 30 39 38 ... 31 20 20.
	fif := EncodeIdent("+1 555 0100")
	if want := "0010 555 1+         "; string(fif) != want {
		t.Fatalf("%q, want %q", fif, want)
	}
	if got := EncodeIdent("123-456-7890"); !bytes.Equal(got[:2], []byte{0x30, 0x39}) || !bytes.Equal(got[11:13], []byte{0x31, 0x20}) {
		t.Fatalf("% X", got)
	}
	if got := DecodeIdent(fif); got != "+1 555 0100" {
		t.Fatalf("%q", got)
	}
}

func TestFallback(t *testing.T) {
	if m := bestModem(FamilyV29|FamilyV27ter, ModemNone); m != V29_9600 {
		t.Fatal(m)
	}
	var seq []Modem
	for m := bestModem(AllModems, ModemNone); m != ModemNone; m = stepDown(AllModems, m) {
		seq = append(seq, m)
	}
	if len(seq) != 8 || seq[3] != V29_9600 || seq[7] != V27ter2400 {
		t.Fatal(seq)
	}
	if stepDown(FamilyV17, V17_7200) != ModemNone {
		t.Fatal("V.17 stepped below 7200")
	}
}

func FuzzDecodeFIF(f *testing.F) {
	for _, s := range []string{"04 EE F8 C4 80 91 80 80 80 18", "00 E2 78", "00 62 F8 44", "", "FF FF FF FF FF FF FF", "4F 00 00 27"} {
		f.Add(unhex(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if c, err := DecodeCaps(b); err == nil {
			if _, err := DecodeCaps(c.Encode()); err != nil {
				t.Fatalf("own DIS rejected: %v", err)
			}
		}
		if p, err := DecodeParams(b); err == nil {
			q, err := DecodeParams(p.Encode())
			if err != nil {
				t.Fatalf("own DCS rejected: %v", err)
			}
			if q.Modem != p.Modem || q.Coding != p.Coding || q.Resolution != p.Resolution || q.ECM != p.ECM {
				t.Fatalf("DCS round trip %+v -> %+v", p, q)
			}
		}
		ParseFrame(b)
		ParsePPS(b)
		ParsePPR(b)
		ParseFCD(b)
		DecodeIdent(b)
	})
}

// FuzzEngineRx feeds arbitrary frames to a receiving engine: it must never
// panic, whatever arrives.
func FuzzEngineRx(f *testing.F) {
	f.Add(unhex(f, "FF 13 83 00 E2 78"), unhex(f, "FF 13 BF 4F 00 00 27"))
	f.Add(unhex(f, "FF 13 83 00 62 F8 44"), unhex(f, "FF 03 06 00 11 22"))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		e, _ := New(Config{ECM: true, Fine: true, Superfine: true, Decoder: T4Decoder{}})
		e.Start(0)
		e.TxDone()
		e.TxDone()
		e.RxFrame(a, true)
		e.RxCarrierUp(V17_14400)
		e.RxData(b)
		e.RxFrame(b, true)
		e.RxCarrierDown()
		e.RxFrame(b, true)
		e.Tick(60e9)
		e.Outputs()
	})
}
