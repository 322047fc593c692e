package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/pushd-im/pushd/benchmarks/suite"
	"github.com/pushd-im/pushd/config"
)

// bench runs the benchmark suite (benchmarks/suite): every scenario on a
// fresh in-process daemon and vendor simulator on loopback, a progress bar on
// stderr, the table on stdout, the JSON result and the SVG chart in --out.
func bench(args []string, stdout, stderr io.Writer) error {
	if suite.IsHelper() { // started by the suite as its WebSocket client fleet
		os.Exit(suite.RunHelper())
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quick := fs.Bool("quick", false, fmt.Sprintf("scale every count down (scale %g) for a run of about two minutes", suite.QuickScale))
	only := fs.String("only", "", "comma-separated scenarios to run ("+strings.Join(suite.Scenarios(), ",")+"); default all")
	out := fs.String("out", "benchmarks/results", "directory for result-<time>.json and chart-<time>.svg")
	scale := fs.Float64("scale", 0, "multiply every count by this (1 = the issue's sizes; overrides --quick)")
	inProcess := fs.Bool("in-process-clients", false, "run the WebSocket clients in this process instead of a helper process")
	profileDir := fs.String("profile-dir", "", "write a CPU profile of each measured pushd window (not setup or baselines), and the heap with the online devices connected, to this directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	o := suite.Options{Scale: 1, OutDir: *out, Progress: stderr, ProfileDir: *profileDir}
	if *quick {
		o.Scale = suite.QuickScale
	}
	if *scale != 0 {
		o.Scale = *scale
	}
	if *only != "" {
		for _, s := range strings.Split(*only, ",") {
			if s = strings.TrimSpace(s); s != "" {
				o.Scenarios = append(o.Scenarios, s)
			}
		}
	}
	exe, exeErr := os.Executable()
	if !*inProcess {
		if exeErr != nil {
			return fmt.Errorf("finding this program for the client helper: %w (use --in-process-clients)", exeErr)
		}
		o.HelperCommand = []string{exe, "bench"}
	}
	if exeErr == nil { // the cluster scenario runs its nodes as `pushd serve` children
		o.PushdCommand = []string{exe}
	}
	// The daemons the suite starts run with the default config, as pushd
	// serve would run them: its GC target included.
	setGCPercent(config.Default().GCPercent)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := suite.Run(ctx, o)
	if res == nil {
		return err
	}
	fmt.Fprintln(stdout)
	if werr := res.WriteTable(stdout); werr != nil {
		return werr
	}
	pass, fail, errs := res.Summary()
	fmt.Fprintf(stdout, "\n%d bars reached, %d missed, %d scenarios failed; scale %g, %.0fs\n", pass, fail, errs, res.Scale, res.DurationS)
	if res.JSONPath != "" {
		fmt.Fprintf(stdout, "result: %s\nchart:  %s\n", res.JSONPath, res.ChartPath)
	}
	if err != nil {
		return errors.New("some scenarios failed: " + strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return nil
}
