package inbound

import (
	"errors"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestPatternMatch(t *testing.T) {
	for _, c := range []struct {
		pattern string
		yes     []string
		no      []string
	}{
		{"_4930X.", []string{"493012", "4930123456"}, []string{"4930", "49301", "4931123", "+4930123", "4930a1"}},
		{"4930X!", []string{"49301", "4930123456"}, []string{"4930", "4931123"}},
		{"_NXXNXXXXXX", []string{"2125551234", "9995559999"}, []string{"1125551234", "212555123", "21255512345", "2120551234"}},
		{"_Z[1-5]", []string{"11", "95", "13"}, []string{"01", "16", "1", "115"}},
		{"_[13-57]XX", []string{"100", "399", "500", "799"}, []string{"200", "600", "800", "10"}},
		{"+49.", []string{"+491", "+49301234"}, []string{"+49", "49301234", "+48301234"}},
		{"_*#X", []string{"*#5"}, []string{"*#", "#*5", "*#55"}},
		{"!", []string{"", "1", "+4930"}, []string{"a"}},
		{"_x[0]z", []string{"101", "909"}, []string{"100", "111"}},
		{"12345", []string{"12345"}, []string{"1234", "123456", "12346"}},
	} {
		p, err := CompilePattern(c.pattern)
		if err != nil {
			t.Fatalf("%q: %v", c.pattern, err)
		}
		for _, n := range c.yes {
			if !p.Match(n) {
				t.Errorf("%q does not match %q", c.pattern, n)
			}
		}
		for _, n := range c.no {
			if p.Match(n) {
				t.Errorf("%q matches %q", c.pattern, n)
			}
		}
	}
}

func TestPatternErrors(t *testing.T) {
	for _, s := range []string{
		"", "_", "X.X", "12!3", "[", "[]", "[5-1]", "[1-]", "[a]", "1+2", "12A", "1 2", "..",
		"_" + strings.Repeat("1", MaxPatternLen+1),
	} {
		if _, err := CompilePattern(s); !errors.Is(err, ErrPattern) {
			t.Errorf("CompilePattern(%q) = %v, want ErrPattern", s, err)
		}
	}
}

func TestPatternString(t *testing.T) {
	for in, want := range map[string]string{
		"4930x.":           "_4930X.",
		"_[0-9][1-9][2-9]": "_XZN",
		"[1235-79]":        "_[1-35-79]",
		"[12]":             "_[12]",
		"[7]!":             "_7!",
		"+1NXX":            "_+1NXX",
	} {
		p, err := CompilePattern(in)
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if got := p.String(); got != want {
			t.Errorf("CompilePattern(%q).String() = %q, want %q", in, got, want)
		}
	}
}

// FuzzPattern checks the single-pass matcher against Go's regexp engine
// on the same language, and that String is the canonical round trip.
func FuzzPattern(f *testing.F) {
	for _, s := range [][2]string{
		{"_4930X.", "4930123"}, {"_NXXNXXXXXX", "2125551234"}, {"[1-5]!", ""}, {"+49.", "+4930"},
		{"_*#X", "*#1"}, {"[13-57]", "4"}, {"[", "1"}, {"X.X", "12"}, {"_Z[0]n!", "109"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, number string) {
		p, err := CompilePattern(pattern)
		if err != nil {
			return
		}
		re := regexp.MustCompile(p.Regexp())
		want := re.MatchString(number) && len(number) <= MaxNumberLen
		if got := p.Match(number); got != want {
			t.Fatalf("%q (%s) on %q: Match %v, regexp %v", pattern, p.Regexp(), number, got, want)
		}
		q, err := CompilePattern(p.String())
		if err != nil {
			t.Fatalf("canonical %q of %q does not compile: %v", p.String(), pattern, err)
		}
		if q.String() != p.String() || q.Match(number) != p.Match(number) {
			t.Fatalf("%q: round trip through %q changed the pattern", pattern, p.String())
		}
	})
}

func BenchmarkPatternMatch(b *testing.B) {
	p, err := CompilePattern("_+4930[1-5]XXXXX.")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if !p.Match("+49302123456789") {
			b.Fatal("no match")
		}
	}
}

// BenchmarkRoute evaluates 1000 rules where only the last matches: the
// worst case of one received fax's routing decision, without the query.
func BenchmarkRoute(b *testing.B) {
	rules := make([]Rule, 1000)
	for i := range rules {
		rules[i] = Rule{ID: int64(i), Priority: i, Number: Match{Kind: MatchPattern, Value: "_+4930" + strconv.Itoa(1000+i) + "X."},
			Destination: Destination{Kind: DestMailbox, Mailbox: "m"}}
	}
	rules[999].Number = Match{Kind: MatchPrefix, Value: "+4940"}
	fax := Fax{DID: "+494012345", Caller: "+4930999", Pages: 1}
	log := slog.New(slog.DiscardHandler)
	for b.Loop() {
		if d := route(rules, fax, log); d.Rule == nil || d.Rule.ID != 999 {
			b.Fatal("wrong rule")
		}
	}
}

// BenchmarkRouteTSI is BenchmarkRoute with a station id condition on
// every rule whose number matches, so each rule's TSI is compared too.
func BenchmarkRouteTSI(b *testing.B) {
	rules := make([]Rule, 1000)
	for i := range rules {
		rules[i] = Rule{ID: int64(i), Priority: i, Number: Match{Kind: MatchPrefix, Value: "+49"},
			TSI:         Match{Kind: MatchContains, Value: "SENDER " + strconv.Itoa(1000+i)},
			Destination: Destination{Kind: DestMailbox, Mailbox: "m"}}
	}
	rules[999].TSI = Match{Kind: MatchPrefix, Value: "acme"}
	fax := Fax{DID: "+494012345", RemoteID: "  ACME   Billing ", Pages: 1}
	log := slog.New(slog.DiscardHandler)
	for b.Loop() {
		if d := route(rules, fax, log); d.Rule == nil || d.Rule.ID != 999 {
			b.Fatal("wrong rule")
		}
	}
}
