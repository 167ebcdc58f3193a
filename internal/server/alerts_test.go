package server

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/faxd/faxd/queue"
)

// Every metric the shipped alert rules name is exported by a running
// server, so a renamed metric cannot silently disarm an alert.
func TestAlertRulesUseExportedMetrics(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../deploy/prometheus/faxd-alerts.yaml")
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
		t.Fatal(err)
	}
	s := startServer(t, selfConfig)
	// A second node makes the membership watcher export its gauge.
	if _, err := s.Queue.Register(t.Context(), queue.NodeInfo{ID: "other"}, queue.NodeConfig{TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`\bfaxd_[a-z_]+`)
	n := 0
	deadline := time.Now().Add(15 * time.Second)
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			for _, m := range name.FindAllString(r.Expr, -1) {
				n++
				for !strings.Contains(metricsBody(t, s), "\n"+m) {
					if time.Now().After(deadline) {
						t.Fatalf("alert %s uses %s, which the server does not export", r.Alert, m)
					}
					time.Sleep(200 * time.Millisecond)
				}
			}
		}
	}
	if n < 5 {
		t.Fatalf("only %d metric references found in the rules", n)
	}
}
