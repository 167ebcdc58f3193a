package repotest

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// README's documentation list is how people find the docs: every page
// under docs/ is linked from it.
func TestEveryDocLinkedFromREADME(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	docs, err := filepath.Glob("../../docs/*.md")
	if err != nil || len(docs) == 0 {
		t.Fatalf("no docs found: %v", err)
	}
	for _, d := range docs {
		link := "(docs/" + filepath.Base(d) + ")"
		if !strings.Contains(string(readme), link) {
			t.Errorf("README.md does not link docs/%s", filepath.Base(d))
		}
	}
}

// labels are references to the documents faxd was specified from
// (requirement numbers, seed scenarios, issue items); they mean nothing
// to the people who run faxd.
var labels = regexp.MustCompile(`\bR[0-9]{1,2}\b|(?i:\bseeds? 0[0-9]{2}\b|\bthe 0[0-9]{2} \w|\(0[0-9]{2}(/0[0-9]{2})?\)|\bissue [0-9]+|\bitems? [0-9]+(, [0-9]+)*( and [0-9]+)?\b)`)

// User-facing text (docs, README, the deploy examples) speaks of faxd's
// features and keys, never of such labels.
func TestUserDocsHaveNoRequirementLabels(t *testing.T) {
	files := []string{"../../README.md"}
	for _, pattern := range []string{"../../docs/*.md", "../../deploy/*.yaml", "../../deploy/*/*.yaml"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 10 {
		t.Fatalf("only %d files found", len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			if m := labels.FindString(line); m != "" {
				t.Errorf("%s:%d: %q: say what it is instead: %s", strings.TrimPrefix(f, "../../"), i+1, m, line)
			}
		}
	}
}

func TestLabelPattern(t *testing.T) {
	for _, s := range []string{"failover (R17)", "R9, R10", "(seed 001)", "the 001 failover controls", "(000/004)", "(004)", "Issue 3, items 1, 2, 6", "item 7"} {
		if !labels.MatchString(s) {
			t.Errorf("%q not caught", s)
		}
	}
	for _, s := range []string{"403 Forbidden", "(401)", "PREFIX-000.pbm", "RFC 3261 §14.1", "--seed N", "seed 1", "R&D", "2000 seeds"} {
		if labels.MatchString(s) {
			t.Errorf("%q caught: %q", s, labels.FindString(s))
		}
	}
}
