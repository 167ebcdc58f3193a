// Package secretbox encrypts the secrets faxd keeps in its database
// (gateway passwords, webhook signing secrets) with AES-256-GCM under keys
// the operator supplies, so a database dump or a copy of the tables does
// not give them away.
//
// A sealed value is text, so it fits the text columns the plaintext used
// to live in:
//
//	faxd-sealed:v1:<key id>:<base64url(nonce || ciphertext || tag)>
//
// The key id travels with each value: a keyring holds the active key,
// which seals, and older keys, which only open, so keys can be rotated by
// re-sealing every value and then dropping the old key. The empty string
// stands for "no secret" and is never sealed. A value without the prefix
// is a plaintext left from before encryption; Open returns it unchanged
// so that old rows keep working until they are re-sealed.
package secretbox

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Prefix starts every sealed value.
const Prefix = "faxd-sealed:v1:"

// KeySize is the length of a key in bytes (AES-256).
const KeySize = 32

var (
	// ErrNoKey: a secret was to be sealed but no key is configured.
	ErrNoKey = errors.New("secretbox: no encryption key configured (set secrets.key_file or secrets.key_env)")
	// ErrUnknownKey: a value is sealed under a key id the keyring lacks.
	ErrUnknownKey = errors.New("secretbox: value sealed under a key that is not configured")
	// ErrDamaged: a value does not open under the key its id names: the
	// key bytes differ from the ones that sealed it, or the value was
	// altered.
	ErrDamaged = errors.New("secretbox: value does not decrypt")
)

var idRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// Keyring holds the keys. A nil *Keyring is valid: it opens plaintext
// values and refuses to seal or to open sealed ones.
type Keyring struct {
	active string
	aeads  map[string]cipher.AEAD
}

// New builds a keyring. active names the sealing key; empty picks the
// only key when there is exactly one.
func New(active string, keys map[string][]byte) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("secretbox: no keys given")
	}
	k := &Keyring{aeads: map[string]cipher.AEAD{}}
	for id, key := range keys {
		if !idRE.MatchString(id) {
			return nil, fmt.Errorf("secretbox: key id %q: use 1-32 letters, digits, '_' or '-'", id)
		}
		if len(key) != KeySize {
			return nil, fmt.Errorf("secretbox: key %q is %d bytes; it must be %d random bytes (base64 encoded)", id, len(key), KeySize)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		if k.aeads[id], err = cipher.NewGCM(block); err != nil {
			return nil, err
		}
	}
	if active == "" {
		if len(keys) != 1 {
			return nil, fmt.Errorf("secretbox: %d keys given: name the one that encrypts in secrets.active_key", len(keys))
		}
		for id := range keys {
			active = id
		}
	}
	if _, ok := k.aeads[active]; !ok {
		return nil, fmt.Errorf("secretbox: the active key %q is not among the keys (%s)", active, strings.Join(idsOf(keys), ", "))
	}
	k.active = active
	return k, nil
}

func idsOf(keys map[string][]byte) []string {
	ids := make([]string, 0, len(keys))
	for id := range keys {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Active is the id of the sealing key ("" for a nil keyring).
func (k *Keyring) Active() string {
	if k == nil {
		return ""
	}
	return k.active
}

// IDs lists the configured key ids.
func (k *Keyring) IDs() []string {
	if k == nil {
		return nil
	}
	ids := make([]string, 0, len(k.aeads))
	for id := range k.aeads {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// IsSealed reports whether s is a sealed value (not a plaintext).
func IsSealed(s string) bool { return strings.HasPrefix(s, Prefix) }

// KeyID is the id of the key that sealed s, "" for a plaintext.
func KeyID(s string) string {
	rest, ok := strings.CutPrefix(s, Prefix)
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, ":")
	return id
}

// aad binds the ciphertext to the key id, so a value cannot be relabelled
// with another id.
func aad(id string) []byte { return []byte(Prefix + id) }

// Seal encrypts plaintext with the active key. "" stays "" (no secret),
// and an already sealed value is returned unchanged, so a value copied
// from one table to another is not sealed twice.
func (k *Keyring) Seal(plaintext string) (string, error) {
	if plaintext == "" || IsSealed(plaintext) {
		return plaintext, nil
	}
	if k == nil {
		return "", ErrNoKey
	}
	a := k.aeads[k.active]
	buf := make([]byte, a.NonceSize(), a.NonceSize()+len(plaintext)+a.Overhead())
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("secretbox: %w", err)
	}
	buf = a.Seal(buf, buf, []byte(plaintext), aad(k.active))
	return Prefix + k.active + ":" + base64.RawURLEncoding.EncodeToString(buf), nil
}

// Open decrypts a sealed value; a plaintext (an old row not yet
// re-sealed) is returned as it is. Errors name the key id, never the
// value.
func (k *Keyring) Open(stored string) (string, error) {
	rest, ok := strings.CutPrefix(stored, Prefix)
	if !ok {
		return stored, nil
	}
	id, b64, ok := strings.Cut(rest, ":")
	if !ok {
		return "", fmt.Errorf("%w: malformed sealed value", ErrDamaged)
	}
	if k == nil {
		return "", fmt.Errorf("%w: key %q (no keys are configured: set secrets.key_file or secrets.key_env)", ErrUnknownKey, id)
	}
	a, ok := k.aeads[id]
	if !ok {
		return "", fmt.Errorf("%w: key %q (configured: %s); add it to the key file until every value is re-sealed (faxd secrets rotate)",
			ErrUnknownKey, id, strings.Join(k.IDs(), ", "))
	}
	raw, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil || len(raw) < a.NonceSize()+a.Overhead() {
		return "", fmt.Errorf("%w: key %q: malformed sealed value", ErrDamaged, id)
	}
	pt, err := a.Open(nil, raw[:a.NonceSize()], raw[a.NonceSize():], aad(id))
	if err != nil {
		return "", fmt.Errorf("%w: key %q is not the key that sealed it, or the value was altered", ErrDamaged, id)
	}
	return string(pt), nil
}

// NeedsReseal reports whether stored should be rewritten: a plaintext,
// or sealed under a key other than the active one.
func (k *Keyring) NeedsReseal(stored string) bool {
	if stored == "" {
		return false
	}
	return KeyID(stored) != k.Active()
}

// ParseKeys reads keys, one per line: "<id> <base64 of 32 bytes>" (a ':'
// or '=' may separate them too). Blank lines and lines starting with '#'
// are ignored; ';' also separates entries, so a list fits one environment
// variable.
func ParseKeys(text string) (map[string][]byte, error) {
	keys := map[string][]byte{}
	sc := bufio.NewScanner(strings.NewReader(strings.ReplaceAll(text, ";", "\n")))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.IndexAny(line, " :=\t")
		if i <= 0 {
			return nil, fmt.Errorf("entry %d: want \"<key id> <base64 key>\"", n)
		}
		// Only the left side is trimmed: base64 padding ends in '='.
		id, b64 := line[:i], strings.TrimLeft(line[i+1:], " :=\t")
		if !idRE.MatchString(id) {
			return nil, fmt.Errorf("entry %d: key id %q: use 1-32 letters, digits, '_' or '-'", n, id)
		}
		key, err := decodeKey(b64)
		if err != nil || len(key) != KeySize {
			return nil, fmt.Errorf("entry %d (key %q): not %d bytes of base64; make one with: head -c 32 /dev/urandom | base64", n, id, KeySize)
		}
		if _, dup := keys[id]; dup {
			return nil, fmt.Errorf("entry %d: key id %q given twice", n, id)
		}
		keys[id] = key
	}
	return keys, nil
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// NewKey returns a fresh random key line "<id> <base64>" for a key file.
func NewKey(id string) (string, error) {
	if !idRE.MatchString(id) {
		return "", fmt.Errorf("secretbox: key id %q: use 1-32 letters, digits, '_' or '-'", id)
	}
	var k [KeySize]byte
	if _, err := rand.Read(k[:]); err != nil {
		return "", err
	}
	return id + " " + base64.StdEncoding.EncodeToString(k[:]), nil
}

// EnsureKeyFile creates path with one fresh key (id "k1") and mode 0600
// unless it exists. It reports whether it created the file.
func EnsureKeyFile(path string) (bool, error) {
	if _, err := os.Stat(path); err == nil {
		return false, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return false, err
	}
	line, err := NewKey("k1")
	if err != nil {
		return false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return false, nil // another process made it first
	}
	if err != nil {
		return false, err
	}
	_, err = fmt.Fprintf(f, "# faxd secrets key, made on first start of the embedded set-up.\n# Back it up: without it the stored gateway passwords and webhook secrets are lost.\n%s\n", line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err == nil, err
}

// NewRandom returns a keyring with one fresh random key under id, kept
// only in memory: for tests and throwaway set-ups, since what it seals
// is lost with the process.
func NewRandom(id string) (*Keyring, error) {
	var k [KeySize]byte
	if _, err := rand.Read(k[:]); err != nil {
		return nil, err
	}
	return New(id, map[string][]byte{id: k[:]})
}
