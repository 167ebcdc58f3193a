// Command drill runs the two-site drill (deploy/two-site): it brings the
// reference up on loopback, kills site A with SIGKILL mid-transmission,
// measures the failover and fails back. It prints a table and exits 1 on
// any fax lost or sent twice, 2 when the drill could not be carried out.
//
//	drill -faxd bin/faxd [-full | -standby] [-keep] [-dir DIR]
//	drill -render OUT -hosts A,B,W   # the configuration files for three real hosts
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	twosite "github.com/faxd/faxd/deploy/two-site"
)

func main() {
	faxd := flag.String("faxd", "bin/faxd", "the faxd binary")
	nats := flag.String("nats-server", "bin/nats-server", "the nats-server binary (drill.sh builds the version go.mod pins)")
	full := flag.Bool("full", os.Getenv("DRILL") == "full", "the full drill (default: the short one; DRILL=full)")
	standby := flag.Bool("standby", os.Getenv("DRILL") == "standby", "the short drill with faxd on B as A's standby (DRILL=standby)")
	keep := flag.Bool("keep", false, "keep the scratch directory (logs, data)")
	dir := flag.String("dir", "", "scratch directory (default: a new temporary one)")
	render := flag.String("render", "", "write the configuration files for real hosts into this directory and exit")
	hosts := flag.String("hosts", "10.0.1.10,10.0.2.10,10.0.3.10", "with -render: the addresses of A, B and W")
	flag.Parse()

	if *render != "" {
		h := strings.Split(*hosts, ",")
		if len(h) != 3 {
			fmt.Fprintln(os.Stderr, "drill: -hosts needs three addresses: A,B,W")
			os.Exit(2)
		}
		files, err := twosite.Reference(h[0], h[1], h[2]).Write(*render)
		if err != nil {
			fmt.Fprintln(os.Stderr, "drill:", err)
			os.Exit(2)
		}
		for _, f := range files {
			fmt.Printf("%s/%s  (site %s, %s)\n", *render, f.Path, f.Site, f.Process)
		}
		return
	}

	o := twosite.Short()
	switch {
	case *full && *standby:
		fmt.Fprintln(os.Stderr, "drill: -full and -standby are separate forms; choose one")
		os.Exit(2)
	case *full:
		o = twosite.Full()
	case *standby:
		o = twosite.StandbyShort()
	}
	o.Faxd, o.NATS, o.Keep, o.Dir, o.Log = *faxd, *nats, *keep, *dir, os.Stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := twosite.Run(ctx, o)
	if rep != nil {
		fmt.Print(rep.Table())
		for _, p := range rep.Problems {
			fmt.Println("PROBLEM:", p)
		}
	}
	switch {
	case errors.Is(err, twosite.ErrMissing):
		fmt.Fprintln(os.Stderr, "drill:", err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "drill:", err)
		os.Exit(2)
	case !rep.OK():
		os.Exit(1)
	}
}
