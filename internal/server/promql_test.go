package server

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// promqlKeywords are PromQL words that are not metric names.
var promqlKeywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"bool": true, "and": true, "or": true, "unless": true, "offset": true, "atan2": true,
	"inf": true, "nan": true, "start": true, "end": true,
}

// promqlAggregations may put a by/without clause before their "(".
var promqlAggregations = map[string]bool{
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
	"limitk": true, "limit_ratio": true,
}

// promMetricNames lists the metric names a PromQL expression selects, in
// order of appearance without repeats: every identifier outside strings,
// label matchers {...} and ranges [...] that is not a function or
// aggregation (followed by "("), a keyword, a label list after by,
// without, on, ignoring, group_left or group_right, a duration after
// offset, or a Grafana $variable. Enough for the queries faxd ships; an
// expression it cannot scan (an unclosed bracket or string) is an error.
func promMetricNames(expr string) ([]string, error) {
	var names []string
	isStart := func(c byte) bool { return c == '_' || c == ':' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
	isPart := func(c byte) bool { return isStart(c) || (c >= '0' && c <= '9') }
	skipSpace := func(i int) int {
		for i < len(expr) && strings.IndexByte(" \t\r\n", expr[i]) >= 0 {
			i++
		}
		return i
	}
	// closing returns the index after the bracket that closes the one at
	// i, stepping over quoted strings.
	closing := func(i int) (int, error) {
		open, shut := expr[i], map[byte]byte{'{': '}', '[': ']', '(': ')'}[expr[i]]
		depth := 0
		for j := i; j < len(expr); j++ {
			switch c := expr[j]; {
			case c == '"' || c == '\'' || c == '`':
				k := j + 1
				for k < len(expr) && expr[k] != c {
					if expr[k] == '\\' && c != '`' {
						k++
					}
					k++
				}
				if k >= len(expr) {
					return 0, fmt.Errorf("unclosed string at %d in %q", j, expr)
				}
				j = k
			case c == open:
				depth++
			case c == shut:
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, fmt.Errorf("unclosed %c at %d in %q", open, i, expr)
	}
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '{' || c == '[':
			j, err := closing(i)
			if err != nil {
				return nil, err
			}
			i = j
		case c == '"' || c == '\'' || c == '`':
			return nil, fmt.Errorf("string literal outside a matcher at %d in %q", i, expr)
		case c == '$':
			i++
			for i < len(expr) && (isPart(expr[i]) || expr[i] == '{' || expr[i] == '}') {
				i++
			}
		case c >= '0' && c <= '9' || c == '.':
			// A number or duration (5m, 1e3, 0x1f): not a name.
			for i < len(expr) && (isPart(expr[i]) || expr[i] == '.') {
				i++
			}
		case isStart(c):
			j := i
			for j < len(expr) && isPart(expr[j]) {
				j++
			}
			word := expr[i:j]
			k := skipSpace(j)
			switch {
			case k < len(expr) && expr[k] == '(' && !promqlKeywords[strings.ToLower(word)]:
				// A function or an aggregation.
			case slices.Contains([]string{"by", "without", "on", "ignoring", "group_left", "group_right"}, strings.ToLower(word)):
				if k < len(expr) && expr[k] == '(' {
					end, err := closing(k)
					if err != nil {
						return nil, err
					}
					k = end
				}
				j = k
			case strings.ToLower(word) == "offset":
				k = skipSpace(j)
				if k < len(expr) && expr[k] == '-' {
					k++
				}
				for k < len(expr) && isPart(expr[k]) {
					k++
				}
				j = k
			case promqlKeywords[strings.ToLower(word)], promqlAggregations[strings.ToLower(word)]:
			default:
				if !slices.Contains(names, word) {
					names = append(names, word)
				}
			}
			i = j
		default:
			i++
		}
	}
	return names, nil
}

func TestPromMetricNames(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`faxd_node_lease_held == 0`, []string{"faxd_node_lease_held"}},
		{`max by (node) (faxd_cluster_node_live) == 0`, []string{"faxd_cluster_node_live"}},
		{`sum by (direction, result) (rate(faxd_calls_total{instance=~"$instance", result!="a{b}"}[$__rate_interval]))`, []string{"faxd_calls_total"}},
		{`(faxd_cluster_node_live == 0) and on (instance) (faxd_node_role{role="standby"} == 1)`, []string{"faxd_cluster_node_live", "faxd_node_role"}},
		{`deriv(faxd_archive_outbox_pending[15m]) > 0 and faxd_archive_outbox_pending > 10`, []string{"faxd_archive_outbox_pending"}},
		{`rate(up[5m] offset 1h) / ignoring(code) group_left (x) sum without (y) (b) or vector(0)`, []string{"up", "b"}},
		{`histogram_quantile(0.99, sum by (le) (rate(faxd_x_bucket[5m]))) > 1.5e3`, []string{"faxd_x_bucket"}},
		{`count(a:recorded:rule{l='it''s'}) > bool 1`, []string{"a:recorded:rule"}},
		{`label_replace(faxd_a, "dst", "$1", "src", "(.*)")`, nil},
	} {
		got, err := promMetricNames(tc.expr)
		if tc.want == nil {
			if err == nil {
				t.Errorf("%s: no error for a string outside a matcher, got %q", tc.expr, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %q, %v; want %q", tc.expr, got, err, tc.want)
		}
	}
	for _, bad := range []string{`faxd_a{x="1"`, `rate(faxd_a[5m)`, `faxd_a{x="1}`} {
		if _, err := promMetricNames(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
