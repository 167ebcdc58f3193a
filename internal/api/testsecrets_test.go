package api

import "github.com/faxd/faxd/internal/secretbox"

// testSecrets seals the secrets tests store; one keyring for the whole
// test binary, so every node of a test shares it as real nodes share the
// key file.
var testSecrets = func() *secretbox.Keyring {
	k, err := secretbox.NewRandom("test")
	if err != nil {
		panic(err)
	}
	return k
}()
