// Command testsummary reads `go test -json` on standard input and prints
// what a person needs: one line per package, the full output of every
// failed test, every skipped test with its reason, and a closing line
// "N passed, N failed, N skipped". It exits non-zero when a test or a
// package failed, and, with -no-skips (CI), when any test skipped: CI
// installs every dependency, so a skip there hides a missing one.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

type summary struct {
	passed, failed, skipped int
	pkgFailed               []string
	failures, skips         []string
	pkgLines                []string
}

// summarize reads the events; progress, if not nil, gets each package's
// result line as the package finishes.
func summarize(r io.Reader, progress io.Writer) (*summary, error) {
	s := &summary{}
	out := map[string]*strings.Builder{} // package/test -> output
	key := func(e event) string { return e.Package + " " + e.Test }
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil {
			// Build errors and the like come as plain text: keep them.
			s.failures = append(s.failures, string(line))
			continue
		}
		switch e.Action {
		case "build-output": // compiler and vet messages of a package that did not build
			s.failures = append(s.failures, e.Output)
		case "output":
			b := out[key(e)]
			if b == nil {
				b = &strings.Builder{}
				out[key(e)] = b
			}
			b.WriteString(e.Output)
		case "pass", "fail", "skip":
			if e.Test == "" { // the package itself
				var l string
				switch e.Action {
				case "fail":
					s.pkgFailed = append(s.pkgFailed, e.Package)
					l = fmt.Sprintf("FAIL\t%s\t%.1fs", e.Package, e.Elapsed)
					if b := out[key(e)]; b != nil {
						s.failures = append(s.failures, b.String())
					}
				case "pass":
					l = fmt.Sprintf("ok\t%s\t%.1fs", e.Package, e.Elapsed)
				default:
					continue // a package without tests
				}
				s.pkgLines = append(s.pkgLines, l)
				if progress != nil {
					fmt.Fprintln(progress, l)
				}
				continue
			}
			switch e.Action {
			case "pass":
				s.passed++
			case "fail":
				s.failed++
				if b := out[key(e)]; b != nil {
					s.failures = append(s.failures, b.String())
				}
			case "skip":
				s.skipped++
				reason := ""
				if b := out[key(e)]; b != nil {
					reason = strings.TrimSpace(b.String())
				}
				s.skips = append(s.skips, fmt.Sprintf("%s %s: %s", e.Package, e.Test, reason))
			}
			delete(out, key(e))
		}
	}
	sort.Strings(s.pkgLines)
	return s, sc.Err()
}

func main() {
	noSkips := flag.Bool("no-skips", false, "fail when any test skipped")
	flag.Parse()
	s, err := summarize(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(2)
	}
	for _, f := range s.failures {
		fmt.Println("----\n" + strings.TrimRight(f, "\n"))
	}
	for _, k := range s.skips {
		fmt.Println("SKIP", k)
	}
	fmt.Printf("%d passed, %d failed, %d skipped\n", s.passed, s.failed, s.skipped)
	switch {
	case s.failed > 0 || len(s.pkgFailed) > 0:
		os.Exit(1)
	case *noSkips && s.skipped > 0:
		fmt.Println("tests skipped in CI: CI installs every dependency, so a skip means one is missing")
		os.Exit(1)
	}
}
