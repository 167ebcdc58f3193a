package routingcfg

import "testing"

func TestRuleMatches(t *testing.T) {
	for _, c := range []struct {
		kind, match, number string
		want                bool
	}{
		{MatchExact, "+4930123", "+4930123", true},
		{MatchExact, "+4930123", "+49301234", false},
		{MatchPrefix, "+4930", "+4930123", true},
		{MatchPrefix, "", "123", true},
		{MatchPrefix, "+4940", "+4930123", false},
		{MatchPattern, "4930[0-9]{3}", "4930123", true},
		{MatchPattern, "4930[0-9]{3}", "49301234", false}, // anchored: the whole number
		{MatchPattern, "12|34", "1234", false},
		{MatchPattern, "12|34", "34", true},
	} {
		r := Rule{MatchKind: c.kind, Match: c.match}
		if got := r.Matches(c.number); got != c.want {
			t.Errorf("%s %q on %q = %v, want %v", c.kind, c.match, c.number, got, c.want)
		}
	}
}

func TestValidateAddress(t *testing.T) {
	for _, a := range []string{"10.0.0.1", "10.0.0.1:5060", "sip.example.com", "[::1]:5060", "gw-1.example:5080"} {
		if err := ValidateAddress(a); err != nil {
			t.Errorf("%q: %v", a, err)
		}
	}
	for _, a := range []string{"sip:gw.example", "gw example", "10.0.0.1:0", "10.0.0.1:99999", "-bad", ""} {
		if err := ValidateAddress(a); err == nil {
			t.Errorf("%q accepted", a)
		}
	}
}
