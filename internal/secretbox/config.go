package secretbox

import (
	"fmt"
	"os"
	"strings"
)

// Config is the secrets section of faxd's configuration: where the keys
// come from and which one encrypts.
type Config struct {
	// KeyFile holds keys, one "<id> <base64 of 32 bytes>" per line.
	KeyFile string `yaml:"key_file"`
	// KeyEnv names an environment variable holding keys in the same
	// form (entries separated by ';' or newlines).
	KeyEnv string `yaml:"key_env"`
	// ActiveKey is the id of the key new values are sealed with; empty
	// when there is exactly one key.
	ActiveKey string `yaml:"active_key"`
}

// Configured reports whether any key source is named.
func (c Config) Configured() bool { return c.KeyFile != "" || c.KeyEnv != "" }

// Load reads the keys the configuration names; nil, nil when it names
// none. getenv looks up environment variables (os.Getenv in production).
// Errors name the configuration key to fix and never show key material.
func (c Config) Load(getenv func(string) string) (*Keyring, error) {
	if !c.Configured() {
		if c.ActiveKey != "" {
			return nil, fmt.Errorf("secrets.active_key %q: no keys: set secrets.key_file or secrets.key_env", c.ActiveKey)
		}
		return nil, nil
	}
	keys := map[string][]byte{}
	add := func(source string, text string) error {
		ks, err := ParseKeys(text)
		if err != nil {
			return fmt.Errorf("%s: %v", source, err)
		}
		for id, k := range ks {
			if _, dup := keys[id]; dup {
				return fmt.Errorf("%s: key id %q is also given by the other key source", source, id)
			}
			keys[id] = k
		}
		return nil
	}
	if c.KeyFile != "" {
		b, err := os.ReadFile(c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("secrets.key_file: %w", err)
		}
		if err := add("secrets.key_file "+c.KeyFile, string(b)); err != nil {
			return nil, err
		}
	}
	if c.KeyEnv != "" {
		v := getenv(c.KeyEnv)
		if strings.TrimSpace(v) == "" {
			return nil, fmt.Errorf("secrets.key_env: the environment variable %s is empty or unset", c.KeyEnv)
		}
		if err := add("secrets.key_env $"+c.KeyEnv, v); err != nil {
			return nil, err
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("secrets: the key sources hold no key")
	}
	k, err := New(c.ActiveKey, keys)
	if err != nil {
		return nil, fmt.Errorf("secrets.active_key: %w", err)
	}
	return k, nil
}
