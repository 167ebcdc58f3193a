package logtail

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestKeepsTheLastBytes(t *testing.T) {
	b := New(10)
	fmt.Fprint(b, "hello ")
	fmt.Fprint(b, "world, again")
	if got := b.String(); got != "rld, again" {
		t.Fatalf("%q", got)
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); b.Write([]byte(strings.Repeat("x", 100))) }()
	}
	wg.Wait()
	if got := b.String(); got != strings.Repeat("x", 10) {
		t.Fatalf("after concurrent writes %q", got)
	}
}
