package users

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/jackc/pgx/v5/pgxpool"
)

// CLIActor is the audit log's actor for changes made with `faxd user`,
// which runs on the server with database access and no account.
const CLIActor = "faxd-cli"

// Command runs `faxd user create|passwd|list|role|disable|enable|grant|revoke`
// directly on the queue database: how the first admin is made on a fresh
// install. args are the words after "user"; the password comes from
// -password-file or, without it, the first line of stdin (never a flag:
// flags show in ps). It returns the process exit code.
func Command(ctx context.Context, pool *pgxpool.Pool, opts Options, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || !IsSubcommand(args[0]) {
		Usage(stderr)
		return 2
	}
	s := New(pool, opts)
	ctx = WithActor(ctx, Actor{Name: CLIActor, RemoteAddr: "local"})
	fs := flag.NewFlagSet("faxd user "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { Usage(stderr) }
	name := fs.String("name", "", "the account's `name`")
	fail := func(err error) int {
		fmt.Fprintf(stderr, "faxd user %s: %v\n", args[0], err)
		return 1
	}
	var pwFile, role, mailbox *string
	var asJSON *bool
	switch args[0] {
	case "create", "passwd":
		pwFile = fs.String("password-file", "", "read the password from the first line of `file` (default: stdin)")
		if args[0] == "create" {
			role = fs.String("role", string(RoleUser), "`role`: admin, operator or user")
		}
	case "role":
		role = fs.String("role", "", "the new `role`: admin, operator or user")
	case "grant", "revoke":
		mailbox = fs.String("mailbox", "", "the `mailbox` (inbound rules' destination.mailbox)")
	case "list":
		asJSON = fs.Bool("json", false, "print JSON")
	}
	if fs.Parse(args[1:]) != nil || fs.NArg() != 0 {
		return 2
	}
	if args[0] == "list" {
		us, err := s.List(ctx)
		if err != nil {
			return fail(err)
		}
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			_ = enc.Encode(us)
			return 0
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tROLE\tDISABLED\tCREATED\tMAILBOXES")
		for _, u := range us {
			g, err := s.Grants(ctx, u.ID)
			if err != nil {
				return fail(err)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%v\t%s\t%s\n", u.ID, u.Name, u.Role, u.Disabled, u.CreatedAt.Local().Format("2006-01-02 15:04"), strings.Join(g, ","))
		}
		tw.Flush()
		return 0
	}
	if *name == "" {
		fmt.Fprintf(stderr, "faxd user %s: -name is required\n", args[0])
		return 2
	}
	var pw string
	if pwFile != nil {
		var err error
		if pw, err = readPassword(*pwFile, stdin); err != nil {
			return fail(err)
		}
	}
	if args[0] == "create" {
		u, err := s.Create(ctx, *name, pw, Role(*role))
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "user %d (%s, %s) created\n", u.ID, u.Name, u.Role)
		return 0
	}
	u, err := s.GetByName(ctx, *name)
	if err != nil {
		return fail(err)
	}
	switch args[0] {
	case "passwd":
		err = s.SetPassword(ctx, u.ID, pw)
	case "role":
		u, err = s.SetRole(ctx, u.ID, Role(*role))
	case "disable", "enable":
		u, err = s.Disable(ctx, u.ID, args[0] == "disable")
	case "grant":
		err = s.Grant(ctx, u.ID, *mailbox)
	case "revoke":
		err = s.Revoke(ctx, u.ID, *mailbox)
	}
	if err != nil {
		return fail(err)
	}
	fmt.Fprintf(stdout, "user %d (%s, %s): %s done\n", u.ID, u.Name, u.Role, args[0])
	return 0
}

// readPassword reads the first line of file, or of stdin when file is
// empty, without its line end.
func readPassword(file string, stdin io.Reader) (string, error) {
	r := stdin
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return "", fmt.Errorf("-password-file: %w", err)
		}
		defer f.Close()
		r = f
	}
	line, err := bufio.NewReader(io.LimitReader(r, maxPasswordBytes+2)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("no password given: pipe it on stdin or name a -password-file")
	}
	return line, nil
}

// Usage prints how `faxd user` is called; faxd prints it for -h before
// opening any database.
func Usage(w io.Writer) {
	fmt.Fprintln(w, "usage: faxd user create -name NAME [-role admin|operator|user] [-password-file F]   (password: first line of F or of stdin)")
	fmt.Fprintln(w, "       faxd user passwd -name NAME [-password-file F]")
	fmt.Fprintln(w, "       faxd user list [-json]")
	fmt.Fprintln(w, "       faxd user role -name NAME -role ROLE")
	fmt.Fprintln(w, "       faxd user disable|enable -name NAME")
	fmt.Fprintln(w, "       faxd user grant|revoke -name NAME -mailbox MAILBOX")
}

// IsSubcommand reports whether word is one Command takes first.
func IsSubcommand(word string) bool {
	switch word {
	case "create", "passwd", "list", "role", "disable", "enable", "grant", "revoke":
		return true
	}
	return false
}
