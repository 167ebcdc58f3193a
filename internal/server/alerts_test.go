package server

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/faxd/faxd/queue"
)

// postgresExporterRules names PostgreSQL's own metrics (postgres_exporter's
// pg_*), which faxd does not export: it is checked only for that.
const postgresExporterRules = "postgres-exporter-alerts.yaml"

// ruleExprs reads a Prometheus rule file: alert name -> expression.
func ruleExprs(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(data, &rules); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := map[string]string{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" {
				t.Fatalf("%s: a rule without alert or expr", path)
			}
			out[filepath.Base(path)+": alert "+r.Alert] = r.Expr
		}
	}
	return out
}

// dashboardExprs reads every query of a Grafana dashboard (panels, rows'
// panels, template variables): where -> expression.
func dashboardExprs(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Title   string `json:"title"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"`
	}
	var d struct {
		Panels     []json.RawMessage `json:"panels"`
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := map[string]string{}
	var walk func([]json.RawMessage)
	walk = func(ps []json.RawMessage) {
		for _, raw := range ps {
			var p panel
			if err := json.Unmarshal(raw, &p); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			for _, tg := range p.Targets {
				if tg.Expr == "" {
					t.Fatalf("%s: panel %q target %s has no expr", path, p.Title, tg.RefID)
				}
				out["panel "+p.Title+" "+tg.RefID] = tg.Expr
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if json.Unmarshal(v.Query, &q) != nil {
			json.Unmarshal(v.Query, &q.Query) // the older form: a plain string
		}
		// label_values(metric, label): the metric is the first argument.
		expr := strings.TrimSuffix(strings.TrimPrefix(q.Query, "label_values("), ")")
		expr, _, _ = strings.Cut(expr, ",")
		out["variable "+v.Name] = expr
	}
	return out
}

// described reports whether some collector in reg describes a metric
// named name, even one without series yet (a counter vector before its
// first event): registering another description of that name is refused.
func described(reg *prometheus.Registry, name string) bool {
	probe := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: "probe from alerts_test", ConstLabels: prometheus.Labels{"probe": "1"}})
	err := reg.Register(probe)
	if err == nil {
		reg.Unregister(probe)
		return false
	}
	// Any other refusal (an invalid name) is not an existing metric.
	return strings.Contains(err.Error(), "previously registered descriptor with the same fully-qualified name")
}

// exported reports whether the metrics page has series of that exact name.
func exported(body, name string) bool {
	for line := range strings.SplitSeq(body, "\n") {
		if rest, ok := strings.CutPrefix(line, name); ok && (strings.HasPrefix(rest, "{") || strings.HasPrefix(rest, " ")) {
			return true
		}
	}
	return false
}

// Every metric the shipped alert rules and the Grafana dashboard name is
// exported by a running server, so a renamed metric cannot silently
// disarm an alert or blank a panel.
func TestAlertRulesUseExportedMetrics(t *testing.T) {
	t.Parallel()
	exprs := map[string]string{}
	files, err := filepath.Glob("../../deploy/prometheus/*.yaml")
	if err != nil || len(files) < 2 {
		t.Fatalf("rule files: %v %v", files, err)
	}
	for _, f := range files {
		rules := ruleExprs(t, f)
		if filepath.Base(f) != postgresExporterRules {
			for k, v := range rules {
				exprs[k] = v
			}
			continue
		}
		// PostgreSQL's own metrics only; anything of faxd's belongs in
		// the checked files.
		for where, e := range rules {
			names, err := promMetricNames(e)
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			for _, m := range names {
				if !strings.HasPrefix(m, "pg_") {
					t.Errorf("%s uses %s, not a postgres_exporter metric", where, m)
				}
			}
		}
	}
	panels := dashboardExprs(t, "../../deploy/grafana/faxd.json")
	if len(panels) < 15 {
		t.Fatalf("only %d queries found in the dashboard", len(panels))
	}
	for k, v := range panels {
		exprs["faxd.json: "+k] = v
	}

	s := startServer(t, selfConfig)
	// A second node makes the membership watcher export its gauge.
	if _, err := s.Queue.Register(t.Context(), queue.NodeInfo{ID: "other"}, queue.NodeConfig{TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	wheres := make([]string, 0, len(exprs))
	for w := range exprs {
		wheres = append(wheres, w)
	}
	slices.Sort(wheres)
	n := 0
	deadline := time.Now().Add(15 * time.Second)
	for _, where := range wheres {
		names, err := promMetricNames(exprs[where])
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		if len(names) == 0 {
			t.Errorf("%s names no metric: %s", where, exprs[where])
		}
		for _, m := range names {
			n++
			if described(s.Metrics.Registry, m) {
				continue
			}
			// Collectors that describe nothing up front show only in the
			// page, some after their first refresh.
			for !exported(metricsBody(t, s), m) {
				if time.Now().After(deadline) {
					t.Fatalf("%s uses %s, which the server does not export", where, m)
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
	}
	if n < 30 {
		t.Fatalf("only %d metric references found", n)
	}
}
