package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// flagSet is a command's flags with what its usage says.
type flagSet struct {
	*flag.FlagSet
	path, synopsis, desc string
}

// flags starts a command's flag set; every command takes -json.
func (a *app) flags(path, synopsis, desc string) *flagSet {
	fs := flag.NewFlagSet(path, flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	fs.Usage = func() {} // parse prints usage itself, to stdout for -h
	fs.BoolVar(&a.json, "json", a.json, "print the API's JSON for scripts")
	return &flagSet{FlagSet: fs, path: path, synopsis: synopsis, desc: desc}
}

func (fs *flagSet) usageLine() string {
	return strings.TrimSpace("usage: " + fs.path + " " + fs.synopsis)
}

func (a *app) printUsage(fs *flagSet) {
	w := a.stdout
	fmt.Fprintln(w, fs.usageLine())
	if fs.desc != "" {
		fmt.Fprintln(w, "\n"+fs.desc)
	}
	fmt.Fprintln(w, "\nflags:")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(a.stderr)
	fmt.Fprintln(w, "\n"+exitCodesHelp)
}

// parseLocal parses flags that may come before or after the positional
// arguments (faxctl send a.pdf -to 123 b.pdf). ok false: stop with code
// (0 after -h, which printed the usage; 2 after a bad flag).
func (a *app) parseLocal(fs *flagSet, args []string) (pos []string, code int, ok bool) {
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				a.printUsage(fs)
				return nil, exitOK, false
			}
			fmt.Fprintf(a.stderr, "%s\nrun '%s -h' for its flags\n", fs.usageLine(), fs.path)
			return nil, exitUsage, false
		}
		if fs.NArg() == 0 {
			return pos, exitOK, true
		}
		if fs.Arg(0) == "--" {
			return append(pos, fs.Args()[1:]...), exitOK, true
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// parse is parseLocal for commands that call a server: it checks the
// number of positional arguments (max -1: any) and that there is a client.
func (a *app) parse(fs *flagSet, args []string, min, max int) (pos []string, code int, ok bool) {
	pos, code, ok = a.parseLocal(fs, args)
	if !ok {
		return nil, code, false
	}
	if len(pos) < min || (max >= 0 && len(pos) > max) {
		return nil, a.usageErr(fs, "wrong number of arguments"), false
	}
	if a.cErr != nil {
		fmt.Fprintf(a.stderr, "%s: %v\n", fs.path, a.cErr)
		return nil, exitUsage, false
	}
	return pos, exitOK, true
}

// usageErr says what is wrong with the command line; exit code 2.
func (a *app) usageErr(fs *flagSet, msg string) int {
	fmt.Fprintf(a.stderr, "%s: %s\n%s\nrun '%s -h' for its flags\n", fs.path, msg, fs.usageLine(), fs.path)
	return exitUsage
}

// id parses a positive id argument.
func (a *app) id(fs *flagSet, s, what string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		a.usageErr(fs, fmt.Sprintf("%q is not a %s id", s, what))
		return 0, false
	}
	return n, true
}

// parseID parses a command whose one argument is the numeric id of a
// what; on a usage error it has said why and code is the exit code.
func (a *app) parseID(fs *flagSet, args []string, what string) (id int64, code int, ok bool) {
	pos, code, ok := a.parse(fs, args, 1, 1)
	if !ok {
		return 0, code, false
	}
	if id, ok = a.id(fs, pos[0], what); !ok {
		return 0, exitUsage, false
	}
	return id, 0, true
}

// timeFlag parses an RFC 3339 time flag; empty is the zero time.
func (a *app) timeFlag(fs *flagSet, name, v string) (time.Time, bool) {
	if v == "" {
		return time.Time{}, true
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		a.usageErr(fs, fmt.Sprintf("-%s %q: want an RFC 3339 time such as 2030-01-02T15:04:05Z", name, v))
		return time.Time{}, false
	}
	return t, true
}

// printJSON prints v as indented JSON.
func (a *app) printJSON(v any) {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func (a *app) table() *tabwriter.Writer { return tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0) }

func when(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// setFlags is the names of the flags given on the command line.
func setFlags(fs *flagSet) map[string]bool {
	m := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { m[f.Name] = true })
	return m
}
