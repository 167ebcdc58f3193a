package users

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// MinPasswordLength is the shortest password accepted, in characters.
const MinPasswordLength = 12

// maxPasswordBytes bounds the work one login can ask for.
const maxPasswordBytes = 1024

// Params are argon2id's cost parameters. They are stored in every hash,
// so raising them later leaves old hashes verifiable.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// DefaultParams follow RFC 9106's second recommended option (64 MiB,
// three passes), with the four lanes spread over fewer cores as available.
var DefaultParams = Params{Memory: 64 * 1024, Time: 3, Threads: 4}

const (
	saltLen = 16
	keyLen  = 32
)

var b64 = base64.RawStdEncoding

// ErrBadHash: a stored hash is not a PHC argon2id string this code reads.
var ErrBadHash = errors.New("users: malformed password hash")

// checkPassword explains what is wrong with a new password.
func checkPassword(pw string) error {
	if n := utf8.RuneCountInString(pw); n < MinPasswordLength {
		return fmt.Errorf("%w: password: at least %d characters are needed, this one has %d", ErrBadRequest, MinPasswordLength, n)
	}
	if len(pw) > maxPasswordBytes {
		return fmt.Errorf("%w: password: at most %d bytes", ErrBadRequest, maxPasswordBytes)
	}
	return nil
}

// HashPassword returns the PHC-style encoding of pw's argon2id hash with a
// fresh random salt: $argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>.
func HashPassword(pw string, p Params) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// decodeHash reads a PHC argon2id string.
func decodeHash(enc string) (Params, []byte, []byte, error) {
	var p Params
	parts := strings.Split(enc, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, ErrBadHash
	}
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return p, nil, nil, ErrBadHash
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return p, nil, nil, ErrBadHash
		}
		switch k {
		case "m":
			p.Memory = uint32(n)
		case "t":
			p.Time = uint32(n)
		case "p":
			if n > 255 {
				return p, nil, nil, ErrBadHash
			}
			p.Threads = uint8(n)
		default:
			return p, nil, nil, ErrBadHash
		}
	}
	// Bounds keep a tampered row from asking for unbounded memory or time.
	if p.Memory < 8 || p.Memory > 1<<20 || p.Time < 1 || p.Time > 20 || p.Threads < 1 {
		return p, nil, nil, ErrBadHash
	}
	salt, err1 := b64.DecodeString(parts[4])
	key, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) < 16 {
		return p, nil, nil, ErrBadHash
	}
	return p, salt, key, nil
}

// VerifyPassword reports whether pw matches the encoded hash, comparing
// in constant time.
func VerifyPassword(pw, encoded string) (bool, error) {
	p, salt, key, err := decodeHash(encoded)
	if err != nil {
		return false, err
	}
	if len(pw) > maxPasswordBytes {
		return false, nil
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}
