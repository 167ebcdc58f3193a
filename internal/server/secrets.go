package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"

	"github.com/faxd/faxd/internal/api/routingcfg"
	"github.com/faxd/faxd/internal/config"
	"github.com/faxd/faxd/internal/inbound"
	"github.com/faxd/faxd/internal/notify"
	"github.com/faxd/faxd/internal/secretbox"
)

// SecretColumns are every column in the queue database that holds a
// sealed secret.
func SecretColumns() []secretbox.Column {
	return slices.Concat(routingcfg.SecretColumns, inbound.SecretColumns, notify.SecretColumns)
}

// OpenSecrets returns the keyring the configuration names. With none
// named, the embedded set-up (no database.queue_dsn) makes a key file
// next to its database on first start; a server on an external database
// gets nil and refuses to store secrets until a key is configured.
func OpenSecrets(cfg config.Config, log *slog.Logger) (*secretbox.Keyring, error) {
	k, err := cfg.Secrets.Load(os.Getenv)
	if err != nil || k != nil {
		return k, err
	}
	if cfg.Database.QueueDSN != "" {
		log.Warn("no secrets key configured: gateway passwords and webhook secrets cannot be stored until secrets.key_file or secrets.key_env is set")
		return nil, nil
	}
	path := cfg.EmbeddedKeyFile()
	made, err := secretbox.EnsureKeyFile(path)
	if err != nil {
		return nil, fmt.Errorf("secrets: cannot create the embedded key file %s: %w", path, err)
	}
	if made {
		log.Warn("generated a secrets key for the embedded set-up; back it up with the database", "key_file", path)
	}
	return secretbox.Config{KeyFile: path}.Load(os.Getenv)
}

// ResealResult sums a re-seal over every secret column.
type ResealResult struct {
	Sealed, Rotated int
	Failures        []secretbox.Failure
}

// ResealSecrets seals every plaintext secret left from before encryption
// and, with rotate, moves every value to the active key. Values that do
// not open are reported, not changed.
func ResealSecrets(ctx context.Context, db secretbox.DB, k *secretbox.Keyring, rotate bool) (ResealResult, error) {
	var out ResealResult
	for _, c := range SecretColumns() {
		r, err := secretbox.Reseal(ctx, db, k, c, rotate)
		if err != nil {
			return out, err
		}
		out.Sealed += r.Sealed
		out.Rotated += r.Rotated
		out.Failures = append(out.Failures, r.Failures...)
	}
	return out, nil
}

// SecretsCensus counts stored secrets by column and key id ("" counts
// plaintexts).
func SecretsCensus(ctx context.Context, db secretbox.DB) (map[string]map[string]int, error) {
	out := map[string]map[string]int{}
	for _, c := range SecretColumns() {
		n, err := secretbox.Census(ctx, db, c)
		if err != nil {
			return nil, err
		}
		out[c.String()] = n
	}
	return out, nil
}

// prepareSecrets runs at start: it seals the plaintext secrets an older
// version stored, and names every stored value this server cannot open
// for want of its key. Neither stops the server: what can be used is.
func (s *Server) prepareSecrets(ctx context.Context) error {
	census, err := SecretsCensus(ctx, s.DB.Queue)
	if err != nil {
		return err
	}
	for col, byKey := range census {
		for id, n := range byKey {
			if id != "" && !slices.Contains(s.secrets.IDs(), id) {
				s.log.Error("stored secrets are sealed under a key this server does not have; they cannot be used until the key is added to secrets.key_file or secrets.key_env",
					"column", col, "key_id", id, "values", n)
			}
		}
	}
	if s.secrets == nil {
		for col, byKey := range census {
			if n := byKey[""]; n > 0 {
				s.log.Warn("plaintext secrets stay unencrypted until a key is configured", "column", col, "values", n)
			}
		}
		return nil
	}
	r, err := ResealSecrets(ctx, s.DB.Queue, s.secrets, false)
	if err != nil {
		return err
	}
	if r.Sealed > 0 {
		s.log.Info("encrypted plaintext secrets stored by an older version", "values", r.Sealed, "key_id", s.secrets.Active())
	}
	for _, f := range r.Failures {
		s.log.Error("stored secret not encrypted", "column", f.Column.String(), "row", f.Row, "err", f.Err)
	}
	return nil
}
