package api

import "testing"

func TestNormalizeNumber(t *testing.T) {
	good := map[string]string{
		"+4930123456":       "+4930123456",
		"030 123-456":       "030123456",
		"+1 (555) 010.9999": "+15550109999",
		"123":               "123",
	}
	for in, want := range good {
		got, err := normalizeNumber(in)
		if err != nil || got != want {
			t.Errorf("normalizeNumber(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "12", "+", "++49123", "49+123", "abc", "123456789012345678901", "0301234x", "1;2;3"} {
		if got, err := normalizeNumber(bad); err == nil {
			t.Errorf("normalizeNumber(%q) = %q, want an error", bad, got)
		}
	}
}

func FuzzNormalizeNumber(f *testing.F) {
	for _, s := range []string{"+4930123456", "030 123-456", "abc", "+", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := normalizeNumber(s)
		if err != nil {
			return
		}
		// A normalised number is its own normal form.
		if m, err := normalizeNumber(n); err != nil || m != n {
			t.Fatalf("normalizeNumber(%q) = %q, then %q, %v", s, n, m, err)
		}
	})
}
