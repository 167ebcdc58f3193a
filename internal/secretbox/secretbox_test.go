package secretbox

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func key(b byte) []byte {
	k := make([]byte, KeySize)
	for i := range k {
		k[i] = b + byte(i)
	}
	return k
}

func ring(t *testing.T, active string, ids ...string) *Keyring {
	t.Helper()
	keys := map[string][]byte{}
	for i, id := range ids {
		keys[id] = key(byte(i * 50))
	}
	k, err := New(active, keys)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	k := ring(t, "", "k1")
	s, err := k.Seal("hunter2-password")
	if err != nil {
		t.Fatal(err)
	}
	if !IsSealed(s) || KeyID(s) != "k1" || strings.Contains(s, "hunter2") {
		t.Fatalf("sealed %q", s)
	}
	s2, _ := k.Seal("hunter2-password")
	if s == s2 {
		t.Fatal("two seals of one value are equal: the nonce is not random")
	}
	if again, _ := k.Seal(s); again != s {
		t.Fatal("sealing a sealed value changed it")
	}
	if got, err := k.Open(s); err != nil || got != "hunter2-password" {
		t.Fatalf("open: %q %v", got, err)
	}
	// Empty and plaintext values pass through.
	if e, _ := k.Seal(""); e != "" {
		t.Fatalf("empty sealed to %q", e)
	}
	if got, err := k.Open("legacy-plain"); err != nil || got != "legacy-plain" {
		t.Fatalf("plaintext: %q %v", got, err)
	}
}

func TestOpenErrors(t *testing.T) {
	k1 := ring(t, "", "k1")
	s, _ := k1.Seal("top secret")
	// Same id, other bytes: a wrong key file.
	wrong, _ := New("k1", map[string][]byte{"k1": key(99)})
	if _, err := wrong.Open(s); !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), `"k1"`) {
		t.Fatalf("wrong key: %v", err)
	}
	// Key id missing from the ring.
	other := ring(t, "", "k2")
	if _, err := other.Open(s); !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), `"k1"`) {
		t.Fatalf("unknown key: %v", err)
	}
	// No keyring at all.
	var none *Keyring
	if _, err := none.Open(s); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("nil keyring open: %v", err)
	}
	if _, err := none.Seal("x"); !errors.Is(err, ErrNoKey) {
		t.Fatalf("nil keyring seal: %v", err)
	}
	// Relabelling a value with another key id fails (the id is bound).
	two := ring(t, "k1", "k1", "k2")
	s1, _ := two.Seal("abc")
	relabelled := strings.Replace(s1, Prefix+"k1:", Prefix+"k2:", 1)
	if _, err := two.Open(relabelled); !errors.Is(err, ErrDamaged) {
		t.Fatalf("relabelled: %v", err)
	}
	// Flipped ciphertext, truncation, garbage.
	raw := []byte(s)
	raw[len(raw)-3] ^= 1
	for _, bad := range []string{string(raw), s[:len(s)-10], Prefix + "k1", Prefix + "k1:!!!"} {
		if _, err := k1.Open(bad); !errors.Is(err, ErrDamaged) {
			t.Errorf("Open(%q) = %v", bad, err)
		}
	}
}

func TestNewErrors(t *testing.T) {
	for name, c := range map[string]struct {
		active string
		keys   map[string][]byte
	}{
		"none":          {"", nil},
		"short key":     {"", map[string][]byte{"k1": []byte("short")}},
		"bad id":        {"", map[string][]byte{"k 1": key(0)}},
		"two no active": {"", map[string][]byte{"a": key(0), "b": key(1)}},
		"active absent": {"c", map[string][]byte{"a": key(0)}},
	} {
		if _, err := New(c.active, c.keys); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestParseKeysAndConfig(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString(key(7))
	keys, err := ParseKeys("# comment\n\nold " + base64.RawURLEncoding.EncodeToString(key(1)) + "\nnew:" + b64 + "\n")
	if err != nil || len(keys) != 2 || string(keys["new"]) != string(key(7)) {
		t.Fatalf("ParseKeys: %v %v", keys, err)
	}
	for _, bad := range []string{"k1", "k1 bm90IDMyIGJ5dGVz", "k1 " + b64 + "\nk1 " + b64, "bad/id " + b64} {
		if _, err := ParseKeys(bad); err == nil {
			t.Errorf("ParseKeys(%q) accepted", bad)
		} else if strings.Contains(err.Error(), b64) {
			t.Errorf("error shows key material: %v", err)
		}
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "keys")
	if err := os.WriteFile(file, []byte("k1 "+b64+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"FAXD_KEYS": "k2=" + base64.StdEncoding.EncodeToString(key(9)) + ";k3 " + base64.StdEncoding.EncodeToString(key(11))}
	getenv := func(k string) string { return env[k] }
	k, err := Config{KeyFile: file, KeyEnv: "FAXD_KEYS", ActiveKey: "k2"}.Load(getenv)
	if err != nil || k.Active() != "k2" || strings.Join(k.IDs(), ",") != "k1,k2,k3" {
		t.Fatalf("Load: %v %v", k.IDs(), err)
	}
	if k, err := (Config{}).Load(getenv); k != nil || err != nil {
		t.Fatalf("no key configured: %v %v", k, err)
	}
	for name, c := range map[string]Config{
		"missing file":    {KeyFile: filepath.Join(dir, "absent")},
		"empty env":       {KeyEnv: "UNSET"},
		"two, no active":  {KeyFile: file, KeyEnv: "FAXD_KEYS"},
		"active, no keys": {ActiveKey: "k1"},
	} {
		if _, err := c.Load(getenv); err == nil || !strings.Contains(err.Error(), "secrets.") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestEnsureKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "secrets.key")
	made, err := EnsureKeyFile(path)
	if err != nil || !made {
		t.Fatalf("first: %v %v", made, err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode())
	}
	before, _ := os.ReadFile(path)
	if made, err := EnsureKeyFile(path); err != nil || made {
		t.Fatalf("second: %v %v", made, err)
	}
	after, _ := os.ReadFile(path)
	if string(before) != string(after) {
		t.Fatal("an existing key file was overwritten")
	}
	k, err := Config{KeyFile: path}.Load(os.Getenv)
	if err != nil || k.Active() != "k1" {
		t.Fatalf("generated file does not load: %v", err)
	}
}

func FuzzOpen(f *testing.F) {
	k, _ := New("", map[string][]byte{"k1": key(0)})
	s, _ := k.Seal("seed")
	f.Add(s)
	f.Add("plain")
	f.Add(Prefix + "k1:")
	f.Fuzz(func(t *testing.T, in string) {
		pt, err := k.Open(in)
		if err == nil && IsSealed(in) {
			// Whatever opens re-seals and opens to the same text.
			again, err := k.Seal(pt)
			if err != nil {
				t.Fatal(err)
			}
			if pt != "" {
				if back, err := k.Open(again); err != nil || back != pt {
					t.Fatalf("round trip: %q %v", back, err)
				}
			}
		}
	})
}

// The cost per stored secret: a gateway password or webhook secret is
// sealed once per write and opened once per use (a routing refresh, a
// webhook signature).
func BenchmarkSeal(b *testing.B) {
	k, _ := New("", map[string][]byte{"k1": key(0)})
	for b.Loop() {
		if _, err := k.Seal("a-typical-sip-digest-password"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	k, _ := New("", map[string][]byte{"k1": key(0)})
	s, _ := k.Seal("a-typical-sip-digest-password")
	for b.Loop() {
		if _, err := k.Open(s); err != nil {
			b.Fatal(err)
		}
	}
}
