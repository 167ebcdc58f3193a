package api

import (
	"fmt"
	"strings"
)

// normalizeNumber checks a fax number: E.164 (+ and 3-15 digits... up to
// 20 for national dialling plans with prefixes) or national digits, 3-20
// digits. Spaces, dashes, dots and parentheses people write for
// readability are dropped; anything else is refused.
func normalizeNumber(s string) (string, error) {
	var b strings.Builder
	digits := 0
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
			digits++
		case r == '+' && b.Len() == 0 && i == strings.IndexByte(s, '+'):
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return "", fmt.Errorf("%q is not a fax number: %q is not allowed (write digits, optionally starting with +)", s, r)
		}
	}
	if digits < 3 || digits > 20 {
		return "", fmt.Errorf("%q is not a fax number: it has %d digits, a number has 3 to 20", s, digits)
	}
	return b.String(), nil
}
