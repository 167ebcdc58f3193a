// Command faxd is the fax server.
//
//	faxd [-config FILE] [run]     run the server (the default)
//	faxd [-config FILE] migrate   apply the schema migrations and exit
//	faxd [-config FILE] check     validate the configuration and exit
//	faxd [-config FILE] token create|list|revoke ...
//	                              manage API tokens directly in the queue
//	                              database (how the first admin token is made)
//	faxd [-config FILE] user create|passwd|list|role|disable|enable|grant|revoke ...
//	                              manage people's accounts directly in the
//	                              queue database (how the first admin is made)
//	faxd [-config FILE] secrets new-key|status|rotate
//	                              manage the encryption of stored secrets
//	faxd keys                     list every configuration key and its environment variable
//	faxd version                  print the version
//	faxd COMMAND -h               help on one command; nothing is started
//
// FILE defaults to $FAXD_CONFIG; with neither, the embedded defaults apply.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/faxd/faxd/internal/api/tokens"
	"github.com/faxd/faxd/internal/buildinfo"
	"github.com/faxd/faxd/internal/config"
	"github.com/faxd/faxd/internal/render"
	"github.com/faxd/faxd/internal/server"
	"github.com/faxd/faxd/internal/users"
)

func main() {
	os.Exit(runIn(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// usages is each command's help, printed for `faxd COMMAND -h`.
var usages = map[string]string{
	"run":     "usage: faxd [-config FILE] [run]\n\nRun the server until SIGINT or SIGTERM.",
	"migrate": "usage: faxd [-config FILE] migrate\n\nApply the schema migrations to the queue and archive databases, and exit.",
	"check":   "usage: faxd [-config FILE] check\n\nValidate the configuration (file and FAXD_ variables) and exit: 0 when it is\ngood, 1 naming every bad key.",
	"keys":    "usage: faxd keys\n\nList every configuration key and its FAXD_ environment variable.",
	"version": "usage: faxd version\n\nPrint the version.",
	"secrets": secretsUsage,
}

func isHelpFlag(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help"
}

func isHelp(arg string) bool { return isHelpFlag(arg) || arg == "help" }

func run(args []string, stdout, stderr io.Writer) int {
	return runIn(args, os.Stdin, stdout, stderr)
}

// runIn is run with stdin, from which `faxd user` reads passwords.
func runIn(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("faxd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", os.Getenv(config.EnvPrefix+"CONFIG"), "configuration `file` (YAML)")
	usage := func(w io.Writer) {
		fmt.Fprintln(w, "usage: faxd [-config FILE] [run|migrate|check|keys|version|token ...|user ...|secrets ...]")
		fmt.Fprintln(w, "       faxd COMMAND -h    help on one command")
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(stderr)
	}
	fs.Usage = func() {} // printed below, to stdout when asked for
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return 0
		}
		usage(stderr)
		return 2
	}
	cmd := "run"
	if fs.NArg() > 0 {
		cmd = fs.Arg(0)
	}
	// Help is answered before anything is loaded, opened or started.
	if isHelp(cmd) {
		usage(stdout)
		return 0
	}
	for i, a := range fs.Args() {
		// "help" counts only as the word after the command: it may be a
		// value further on (faxd token create --name help).
		if i == 0 || !(isHelpFlag(a) || (i == 1 && a == "help")) {
			continue
		}
		if cmd == "token" {
			tokens.Usage(stdout)
			return 0
		}
		if cmd == "user" {
			users.Usage(stdout)
			return 0
		}
		if u, ok := usages[cmd]; ok {
			fmt.Fprintln(stdout, u)
			return 0
		}
	}
	if fs.NArg() > 1 && cmd != "token" && cmd != "secrets" && cmd != "user" {
		usage(stderr)
		return 2
	}
	if cmd == "token" && (fs.NArg() < 2 || !tokens.IsSubcommand(fs.Arg(1))) {
		tokens.Usage(stderr)
		return 2
	}
	if cmd == "user" && (fs.NArg() < 2 || !users.IsSubcommand(fs.Arg(1))) {
		users.Usage(stderr)
		return 2
	}
	switch cmd {
	case "version":
		fmt.Fprintln(stdout, "faxd", buildinfo.String())
		return 0
	case "keys":
		for _, k := range config.Keys() {
			fmt.Fprintf(stdout, "%-32s %s\n", k.Path, k.Env)
		}
		return 0
	case "run", "migrate", "check", "token", "secrets", "user":
	default:
		fmt.Fprintf(stderr, "faxd: unknown command %q\n", cmd)
		usage(stderr)
		return 2
	}

	cfg, err := config.Load(*configPath, os.Environ())
	if err != nil {
		fmt.Fprintln(stderr, "faxd:", err)
		return 1
	}
	if cmd == "check" {
		fmt.Fprintln(stdout, "configuration ok")
		// Optional converters: reported, never a failure.
		if path, isolated, err := render.OfficeAvailable(cfg.API.OfficeCommand); err != nil {
			fmt.Fprintf(stdout, "api.office_command: %v\n", err)
		} else if !isolated {
			fmt.Fprintf(stdout, "api.office_command: LibreOffice found at %s; this host allows no unprivileged network namespace, so it runs with an empty environment but not cut off from the network\n", path)
		} else {
			fmt.Fprintf(stdout, "api.office_command: LibreOffice found at %s (sandboxed without network)\n", path)
		}
		return 0
	}
	log := server.NewLogger(cfg, stderr)
	slog.SetDefault(log)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if cmd == "secrets" {
		return secretsCommand(ctx, cfg, log, fs.Args()[1:], stdout, stderr)
	}
	if cmd == "migrate" || cmd == "token" || cmd == "user" {
		db, err := server.OpenDatabases(ctx, cfg.Database, log)
		if err != nil {
			log.Error("open databases", "err", err)
			return 1
		}
		defer db.Close(context.Background())
		if err := server.Migrate(ctx, db); err != nil {
			log.Error("migrate", "err", err)
			return 1
		}
		if cmd == "token" {
			return tokens.Command(ctx, db.Queue, fs.Args()[1:], stdout, stderr)
		}
		if cmd == "user" {
			return users.Command(ctx, db.Queue, cfg.Users.Options(), fs.Args()[1:], stdin, stdout, stderr)
		}
		log.Info("migrations applied")
		return 0
	}

	srv, err := server.New(ctx, cfg, log)
	if err != nil {
		log.Error("start", "err", err)
		return 1
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		srv.Close(closeCtx)
		log.Info("faxd stopped")
	}()
	if err := srv.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("run", "err", err)
		return 1
	}
	return 0
}
