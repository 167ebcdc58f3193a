package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/faxd/faxd/client"
)

// passwordInput is where `faxctl users create|update -password-stdin`
// reads the password (tests replace it).
var passwordInput io.Reader = os.Stdin

// readPasswordLine reads the first line of file, or of passwordInput when
// file is "-". Passwords never come from flags: flags show in ps.
func readPasswordLine(file string) (string, error) {
	r := passwordInput
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return "", err
		}
		defer f.Close()
		r = f
	}
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password given: -password-file names a file, or - for standard input")
	}
	return line, nil
}

func (a *app) printUser(u *client.User) {
	if a.json {
		a.printJSON(u)
		return
	}
	fmt.Fprintf(a.stdout, "user %d  %s\nrole      %s\ndisabled  %v\ncreated   %s\nmailboxes %s\n",
		u.ID, u.Name, u.Role, u.Disabled, when(&u.CreatedAt), strings.Join(u.Grants, ", "))
}

func (a *app) me(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "[-json]", "Who the token (or session) in use is: name, role and mailbox grants.")
	if _, code, ok := a.parse(fs, args, 0, 0); !ok {
		return code, nil
	}
	m, err := a.c.GetMe(ctx)
	if err != nil {
		return exitFailed, err
	}
	if a.json {
		a.printJSON(m)
		return exitOK, nil
	}
	fmt.Fprintf(a.stdout, "name      %s\nrole      %s\nkind      %s\nmailboxes %s\n", m.Name, m.Role, m.Kind, strings.Join(m.Grants, ", "))
	return exitOK, nil
}

func (a *app) usersList(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "[-json]", "List the user accounts with their mailbox grants (admin).")
	if _, code, ok := a.parse(fs, args, 0, 0); !ok {
		return code, nil
	}
	us, err := a.c.ListUsers(ctx)
	if err != nil {
		return exitFailed, err
	}
	if a.json {
		a.printJSON(map[string]any{"users": us})
		return exitOK, nil
	}
	tw := a.table()
	fmt.Fprintln(tw, "ID\tNAME\tROLE\tDISABLED\tCREATED\tMAILBOXES")
	for _, u := range us {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%v\t%s\t%s\n", u.ID, u.Name, u.Role, u.Disabled, when(&u.CreatedAt), strings.Join(u.Grants, ","))
	}
	tw.Flush()
	return exitOK, nil
}

func (a *app) usersShow(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "ID", "One user account.")
	id, code, ok := a.parseID(fs, args, "user")
	if !ok {
		return code, nil
	}
	u, err := a.c.GetUser(ctx, id)
	if err != nil {
		return exitFailed, err
	}
	a.printUser(u)
	return exitOK, nil
}

func (a *app) usersCreate(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "-name NAME [-role admin|operator|user] -password-file FILE|-", "Create a user account. The password (at least 12 characters) is the first line of FILE, or of standard input for -.")
	name := fs.String("name", "", "account `name` (required)")
	role := fs.String("role", "user", "admin, operator or user")
	pwFile := fs.String("password-file", "", "`file` holding the password, - for standard input (required)")
	if _, code, ok := a.parse(fs, args, 0, 0); !ok {
		return code, nil
	}
	if *name == "" || *pwFile == "" {
		return a.usageErr(fs, "-name and -password-file are required"), nil
	}
	pw, err := readPasswordLine(*pwFile)
	if err != nil {
		return exitUsage, fmt.Errorf("-password-file: %w", err)
	}
	u, err := a.c.CreateUser(ctx, client.UserInput{Name: *name, Password: pw, Role: *role})
	if err != nil {
		return exitFailed, err
	}
	if a.json {
		a.printJSON(u)
		return exitOK, nil
	}
	fmt.Fprintf(a.stdout, "user %d (%s, %s) created\n", u.ID, u.Name, u.Role)
	return exitOK, nil
}

func (a *app) usersUpdate(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "ID [-role ROLE] [-disabled true|false] [-password-file FILE|-]", "Change a user's role, disabled state or password (a new password or disabling ends the user's sessions).")
	role := fs.String("role", "", "new role: admin, operator or user")
	disabled := fs.String("disabled", "", "true to stop the account, false to restore it")
	pwFile := fs.String("password-file", "", "`file` holding the new password, - for standard input")
	pos, code, ok := a.parse(fs, args, 1, 1)
	if !ok {
		return code, nil
	}
	id, ok := a.id(fs, pos[0], "user")
	if !ok {
		return exitUsage, nil
	}
	var in client.UserUpdate
	if *role != "" {
		in.Role = role
	}
	switch *disabled {
	case "":
	case "true", "false":
		d := *disabled == "true"
		in.Disabled = &d
	default:
		return a.usageErr(fs, "-disabled must be true or false"), nil
	}
	if *pwFile != "" {
		pw, err := readPasswordLine(*pwFile)
		if err != nil {
			return exitUsage, fmt.Errorf("-password-file: %w", err)
		}
		in.Password = &pw
	}
	if in.Role == nil && in.Disabled == nil && in.Password == nil {
		return a.usageErr(fs, "give at least one of -role, -disabled and -password-file"), nil
	}
	u, err := a.c.UpdateUser(ctx, id, in)
	if err != nil {
		return exitFailed, err
	}
	a.printUser(u)
	return exitOK, nil
}

func (a *app) usersDelete(ctx context.Context, path string, args []string) (int, error) {
	fs := a.flags(path, "ID", "Delete a user account with its sessions, grants and API tokens.")
	id, code, ok := a.parseID(fs, args, "user")
	if !ok {
		return code, nil
	}
	if err := a.c.DeleteUser(ctx, id); err != nil {
		return exitFailed, err
	}
	if !a.json {
		fmt.Fprintf(a.stdout, "user %d deleted\n", id)
	}
	return exitOK, nil
}

func (a *app) usersGrant(ctx context.Context, path string, args []string) (int, error) {
	grant := strings.HasSuffix(path, "grant")
	desc := "Let a user see the received faxes of a mailbox."
	if !grant {
		desc = "Take a mailbox grant back."
	}
	fs := a.flags(path, "ID MAILBOX", desc)
	pos, code, ok := a.parse(fs, args, 2, 2)
	if !ok {
		return code, nil
	}
	id, ok := a.id(fs, pos[0], "user")
	if !ok {
		return exitUsage, nil
	}
	var g []string
	var err error
	if grant {
		g, err = a.c.GrantMailbox(ctx, id, pos[1])
	} else {
		g, err = a.c.RevokeMailbox(ctx, id, pos[1])
	}
	if err != nil {
		return exitFailed, err
	}
	if a.json {
		a.printJSON(map[string]any{"user_id": id, "mailboxes": g})
		return exitOK, nil
	}
	fmt.Fprintf(a.stdout, "user %d mailboxes: %s\n", id, strings.Join(g, ", "))
	return exitOK, nil
}
