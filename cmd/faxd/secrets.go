package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"

	"github.com/faxd/faxd/internal/api/tokens"
	"github.com/faxd/faxd/internal/audit"
	"github.com/faxd/faxd/internal/config"
	"github.com/faxd/faxd/internal/secretbox"
	"github.com/faxd/faxd/internal/server"
)

const secretsUsage = `usage: faxd secrets new-key [ID]   print a fresh key line for secrets.key_file
       faxd secrets status         count stored secrets by the key that sealed them
       faxd secrets rotate         re-encrypt every stored secret with secrets.active_key`

// secretsCommand manages the encryption of the secrets stored in the
// queue database. args are the words after "secrets".
func secretsCommand(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, secretsUsage)
		return 2
	}
	if args[0] == "new-key" {
		id := "k1"
		if len(args) > 2 {
			fmt.Fprintln(stderr, secretsUsage)
			return 2
		}
		if len(args) == 2 {
			id = args[1]
		}
		line, err := secretbox.NewKey(id)
		if err != nil {
			fmt.Fprintln(stderr, "faxd secrets new-key:", err)
			return 2
		}
		fmt.Fprintln(stdout, line)
		return 0
	}
	if (args[0] != "status" && args[0] != "rotate") || len(args) != 1 {
		fmt.Fprintln(stderr, secretsUsage)
		return 2
	}
	keys, err := server.OpenSecrets(cfg, log)
	if err != nil {
		fmt.Fprintln(stderr, "faxd secrets:", err)
		return 1
	}
	db, err := server.OpenDatabases(ctx, cfg.Database, log)
	if err != nil {
		fmt.Fprintln(stderr, "faxd secrets: open databases:", err)
		return 1
	}
	defer db.Close(context.Background())
	if err := server.Migrate(ctx, db); err != nil {
		fmt.Fprintln(stderr, "faxd secrets: migrate:", err)
		return 1
	}
	if args[0] == "status" {
		return secretsStatus(ctx, db, keys, stdout, stderr)
	}
	if keys == nil {
		fmt.Fprintln(stderr, "faxd secrets rotate:", secretbox.ErrNoKey)
		return 1
	}
	res, err := server.ResealSecrets(ctx, db.Queue, keys, true)
	if err != nil {
		fmt.Fprintln(stderr, "faxd secrets rotate:", err)
		return 1
	}
	detail := fmt.Sprintf("active key %s: %d values moved from older keys, %d plaintexts encrypted, %d could not be opened",
		keys.Active(), res.Rotated, res.Sealed, len(res.Failures))
	if _, err := audit.Record(ctx, db.Queue, audit.Change{Actor: tokens.CLIActor, RemoteAddr: "local", Action: "rotate",
		ObjectType: audit.Secrets, ObjectID: keys.Active(), Detail: detail}); err != nil {
		fmt.Fprintln(stderr, "faxd secrets rotate: audit log:", err)
	}
	fmt.Fprintln(stdout, detail)
	for _, f := range res.Failures {
		fmt.Fprintf(stderr, "%s row %s: %v\n", f.Column, f.Row, f.Err)
	}
	if len(res.Failures) > 0 {
		fmt.Fprintln(stderr, "faxd secrets rotate: some values were left as they are; add the key they name to the key file and run rotate again")
		return 1
	}
	fmt.Fprintln(stdout, "every stored secret is sealed with", keys.Active()+"; keys no longer listed by `faxd secrets status` may be removed")
	return 0
}

func secretsStatus(ctx context.Context, db *server.Databases, keys *secretbox.Keyring, stdout, stderr io.Writer) int {
	census, err := server.SecretsCensus(ctx, db.Queue)
	if err != nil {
		fmt.Fprintln(stderr, "faxd secrets status:", err)
		return 1
	}
	if keys == nil {
		fmt.Fprintln(stdout, "no secrets key configured")
	} else {
		fmt.Fprintf(stdout, "active key %s; configured keys %s\n", keys.Active(), strings.Join(keys.IDs(), ", "))
	}
	cols := make([]string, 0, len(census))
	for c := range census {
		cols = append(cols, c)
	}
	sort.Strings(cols)
	missing := false
	for _, c := range cols {
		ids := make([]string, 0, len(census[c]))
		for id := range census[c] {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			note := ""
			switch {
			case id == "":
				note = " (plaintext: run faxd secrets rotate)"
				id = "-"
			case !contains(keys.IDs(), id):
				note = " (KEY NOT CONFIGURED: these cannot be decrypted)"
				missing = true
			case id != keys.Active():
				note = " (older key: run faxd secrets rotate)"
			}
			fmt.Fprintf(stdout, "%-20s key %-12s %d%s\n", c, id, census[c][id], note)
		}
	}
	if missing {
		return 1
	}
	return 0
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
