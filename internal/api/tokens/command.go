package tokens

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/faxd/faxd/internal/audit"
)

// CLIActor is the audit log's actor for changes made with the faxd
// command line, which runs on the server with database access and no
// token.
const CLIActor = "faxd-cli"

// Command runs `faxd token create|list|revoke` directly on the queue
// database: the bootstrap path that creates the first admin token on a
// fresh install, before any token exists to call the API with. args are
// the words after "token". It returns the process exit code.
func Command(ctx context.Context, pool *pgxpool.Pool, args []string, stdout, stderr io.Writer) int {
	usage := func() int {
		Usage(stderr)
		return 2
	}
	if len(args) == 0 {
		return usage()
	}
	fs := flag.NewFlagSet("faxd token "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	s := New(pool)
	switch args[0] {
	case "create":
		name := fs.String("name", "", "token `name` (submitters' faxes are filed under it)")
		role := fs.String("role", string(Submitter), "`role`: submitter or admin")
		expires := fs.String("expires", "", "`lifetime` (90d, 12h) or date (2027-01-31) after which the token is refused; empty: never")
		if fs.Parse(args[1:]) != nil || fs.NArg() != 0 {
			return usage()
		}
		exp, err := ParseExpiry(*expires, s.now())
		if err != nil {
			fmt.Fprintln(stderr, "faxd token create: --expires:", err)
			return 2
		}
		var secret string
		var t Token
		err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			var err error
			if secret, t, err = s.WithTx(tx).CreateExpiring(ctx, *name, Role(*role), exp); err != nil {
				return err
			}
			_, err = audit.Record(ctx, tx, audit.Change{Actor: CLIActor, RemoteAddr: "local", Action: "create",
				ObjectType: audit.Token, ObjectID: strconv.FormatInt(t.ID, 10), After: t})
			return err
		})
		if err != nil {
			fmt.Fprintln(stderr, "faxd token create:", err)
			return 1
		}
		if *asJSON {
			writeJSON(stdout, struct {
				Token
				Secret string `json:"token"`
			}{t, secret})
			return 0
		}
		fmt.Fprintf(stdout, "%s\n", secret)
		expNote := "does not expire"
		if !t.ExpiresAt.IsZero() {
			expNote = "expires " + t.ExpiresAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(stderr, "token %d (%s, %s, %s) created; the line above is shown only once: store it now\n", t.ID, t.Name, t.Role, expNote)
		return 0
	case "list":
		if fs.Parse(args[1:]) != nil || fs.NArg() != 0 {
			return usage()
		}
		ts, err := s.List(ctx)
		if err != nil {
			fmt.Fprintln(stderr, "faxd token list:", err)
			return 1
		}
		if *asJSON {
			writeJSON(stdout, ts)
			return 0
		}
		PrintTable(stdout, ts)
		return 0
	case "revoke":
		if fs.Parse(args[1:]) != nil || fs.NArg() != 1 {
			return usage()
		}
		id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
		if err != nil {
			fmt.Fprintf(stderr, "faxd token revoke: %q is not a token id (see faxd token list)\n", fs.Arg(0))
			return 2
		}
		var t Token
		err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			st := s.WithTx(tx)
			before, err := st.Get(ctx, id)
			if err != nil {
				return err
			}
			if t, err = st.Revoke(ctx, id); err != nil {
				return err
			}
			_, err = audit.Record(ctx, tx, audit.Change{Actor: CLIActor, RemoteAddr: "local", Action: "revoke",
				ObjectType: audit.Token, ObjectID: strconv.FormatInt(t.ID, 10), Before: before, After: t})
			return err
		})
		if err != nil {
			fmt.Fprintln(stderr, "faxd token revoke:", err)
			return 1
		}
		fmt.Fprintf(stdout, "token %d (%s) revoked\n", t.ID, t.Name)
		return 0
	default:
		return usage()
	}
}

// Usage prints how `faxd token` is called; faxd prints it for -h before
// opening any database.
func Usage(w io.Writer) {
	fmt.Fprintln(w, "usage: faxd token create --name NAME [--role submitter|admin] [--expires 90d|2027-01-31] [--json]")
	fmt.Fprintln(w, "       faxd token list [--json]")
	fmt.Fprintln(w, "       faxd token revoke ID")
}

// IsSubcommand reports whether word is one Command takes first.
func IsSubcommand(word string) bool {
	return word == "create" || word == "list" || word == "revoke"
}

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// PrintTable prints tokens for people.
func PrintTable(w io.Writer, ts []Token) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tROLE\tCREATED\tLAST USED\tEXPIRES\tREVOKED")
	when := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.Local().Format("2006-01-02 15:04")
	}
	for _, t := range ts {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Role, when(t.CreatedAt), when(t.LastUsedAt), when(t.ExpiresAt), when(t.RevokedAt))
	}
	tw.Flush()
}
