package main

import (
	"strings"
	"testing"
)

func TestSummarize(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"run","Package":"p","Test":"TestA"}`,
		`{"Action":"output","Package":"p","Test":"TestA","Output":"fine\n"}`,
		`{"Action":"pass","Package":"p","Test":"TestA"}`,
		`{"Action":"output","Package":"p","Test":"TestB","Output":"    b_test.go:9: want 2, got 3\n"}`,
		`{"Action":"fail","Package":"p","Test":"TestB"}`,
		`{"Action":"output","Package":"p","Test":"TestC","Output":"    c_test.go:4: gcc missing\n"}`,
		`{"Action":"skip","Package":"p","Test":"TestC"}`,
		`{"Action":"fail","Package":"p","Elapsed":1.5}`,
		`{"Action":"pass","Package":"q","Elapsed":0.2}`,
		`# q/r`,
	}, "\n")
	var progress strings.Builder
	s, err := summarize(strings.NewReader(in), &progress)
	if err != nil {
		t.Fatal(err)
	}
	if s.passed != 1 || s.failed != 1 || s.skipped != 1 {
		t.Fatalf("counts %d %d %d", s.passed, s.failed, s.skipped)
	}
	if len(s.pkgFailed) != 1 || s.pkgFailed[0] != "p" {
		t.Fatalf("failed packages %v", s.pkgFailed)
	}
	all := strings.Join(s.failures, "|")
	if !strings.Contains(all, "want 2, got 3") || strings.Contains(all, "fine") || !strings.Contains(all, "# q/r") {
		t.Fatalf("failures %q", all)
	}
	if len(s.skips) != 1 || !strings.Contains(s.skips[0], "gcc missing") {
		t.Fatalf("skips %q", s.skips)
	}
	if len(s.pkgLines) != 2 || !strings.HasPrefix(s.pkgLines[0], "FAIL\tp") {
		t.Fatalf("package lines %q", s.pkgLines)
	}
	if !strings.Contains(progress.String(), "ok\tq") {
		t.Fatalf("progress %q", progress.String())
	}
}
