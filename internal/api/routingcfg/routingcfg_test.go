package routingcfg

import "testing"

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
