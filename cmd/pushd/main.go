// Command pushd is the pushd daemon and its tools.
//
//	pushd serve [--config FILE]            run the daemon (no config: the demo app on the built-in vendor simulator)
//	pushd token --app APP --user USER      print a client token for a user (development)
//	pushd sim [--dir DIR] [--addr ADDR]    run the vendor simulator alone
//	pushd check-config --config FILE       load a config and list every problem in it
//	pushd cluster-certs --dir D --nodes N  make a cluster CA, node certificates and the gossip key
//	pushd connect --user U --device D      a device's long connection: print frames, ack messages
//	pushd bench [--quick] [--only LIST]    run the benchmark suite (benchmarks/README.md)
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
	"runtime/debug"
	"syscall"
	"time"

	"github.com/pushd-im/pushd/config"
	"github.com/pushd-im/pushd/daemon"
	"github.com/pushd-im/pushd/push/vendorsim"
	"github.com/pushd-im/pushd/transport/api"
)

const usage = `pushd: a self-hosted offline-push dispatcher for IM apps

Usage:
  pushd serve [--config FILE]
      Run the daemon. Without --config (and without PUSHD_CONFIG) it serves the
      demo app on 127.0.0.1:8080 with every provider pointed at the built-in
      vendor simulator: no credentials needed.
  pushd token --app APP --user USER [--ttl 24h] [--config FILE] [--data-dir DIR] [--kid K]
      Print a client token (HS256 JWT) for a user, for development.
  pushd sim [--dir DIR] [--addr 127.0.0.1:8443]
      Run the vendor simulator alone (every provider) and write the provider
      config that points pushd at it to DIR/pushd-providers.yaml.
  pushd check-config --config FILE
      Load the config and list every problem in it.
  pushd cluster-certs [--dir ./pushd-cluster] [--nodes node-1,node-2,node-3]
                      [--hosts 127.0.0.1,localhost] [--valid-for 8760h]
      Make what the nodes of a cluster need to trust each other: a CA (reused
      when --dir has one), a certificate and key per node naming --hosts, and
      the gossip key; print each node's cluster config keys.
  pushd connect --user USER --device DEVICE [--addr 127.0.0.1:8080] [--no-ack] [--background]
      Open a device's long connection, print every frame, and ack each message
      (a WebSocket client for trying pushd out).
  pushd bench [--quick | --scale X] [--only ingest,online,push,fanout,drain,idle]
              [--out benchmarks/results] [--profile-dir DIR] [--in-process-clients]
      Run the benchmark suite on loopback (a fresh daemon and vendor simulator
      per scenario): a progress bar, a table of figures against their baselines
      and bars, and a JSON result and SVG chart in --out (benchmarks/README.md).
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(args[1:], stdout, stderr)
	case "token":
		err = token(args[1:], stdout)
	case "sim":
		err = sim(args[1:], stderr)
	case "check-config":
		err = checkConfig(args[1:], stdout)
	case "connect":
		err = connect(args[1:], stdout)
	case "cluster-certs":
		err = clusterCerts(args[1:], stdout)
	case "bench":
		err = bench(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "pushd: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "pushd %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// loadConfig reads --config (or PUSHD_CONFIG); with neither it is the built-in default.
func loadConfig(path string) (*config.Config, bool, error) {
	if path == "" {
		path = os.Getenv("PUSHD_CONFIG")
	}
	if path == "" {
		cfg, err := daemon.DefaultConfig(os.Environ())
		return cfg, true, err
	}
	cfg, err := config.Load(path, os.Environ())
	return cfg, false, err
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func serve(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "config file (YAML)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, builtin, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, stderr)
	setGCPercent(cfg.GCPercent)
	d := daemon.New(cfg, daemon.Options{Logger: logger})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// SIGHUP reloads the API's certificate (and no longer ends the process).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	if err := d.Start(ctx); err != nil {
		return err
	}
	gossip, remote := d.GossipAddr(), d.RemoteAddr()
	if gossip == "" {
		gossip, remote = "off", "off" // a lone node opens no port for peers
	}
	fmt.Fprintf(stdout, "pushd node %s: api %s gossip %s remote %s\n", cfg.Cluster.Name, d.APIURL(), gossip, remote)
	if key, _ := d.DemoSecrets(); key != "" {
		fmt.Fprintf(stdout, "pushd is serving %s (app %q", d.APIURL(), daemon.DemoAppID)
		if builtin {
			fmt.Fprint(stdout, ", built-in default config")
		}
		fmt.Fprintf(stdout, ", vendors simulated at %s)\n", d.Simulator().URL())
		fmt.Fprintf(stdout, "  server API key:  X-API-Key: %s\n", key)
		fmt.Fprintf(stdout, "  client token:    go run ./cmd/pushd token --app %s --user bob --data-dir %s\n", daemon.DemoAppID, cfg.DataDir)
		fmt.Fprintf(stdout, "  pushes received: curl -sk %s/sim/records\n", d.Simulator().URL())
	} else {
		fmt.Fprintf(stdout, "pushd is serving %s\n", d.APIURL())
	}
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-d.Left(): // POST /v1/cluster/leave moved its shard replicas away
			done = true
		case <-hup:
			_ = d.ReloadTLS() // it logs what it did
		}
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return d.Shutdown(sctx)
}

func token(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	app := fs.String("app", daemon.DemoAppID, "app id")
	user := fs.String("user", "", "user id (the token's sub)")
	ttl := fs.Duration("ttl", 24*time.Hour, "lifetime")
	cfgPath := fs.String("config", "", "config file that holds the app's client_token_secret")
	dataDir := fs.String("data-dir", "", "data dir of a daemon running the built-in default (where the demo secrets are)")
	kid := fs.String("kid", "", "sign with the app's client_token_secrets entry of this kid (default: client_token_secret, or the last entry)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *user == "" {
		return errors.New("--user is required")
	}
	if *ttl <= 0 {
		return errors.New("--ttl must be positive")
	}
	k, secret, err := clientSecret(*app, *cfgPath, *dataDir, *kid)
	if err != nil {
		return err
	}
	tok, err := api.MintClientTokenWithKid(*app, *user, k, []byte(secret), *ttl, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

func sim(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	dir := fs.String("dir", "./pushd-sim", "where the simulator keeps its credentials")
	addr := fs.String("addr", "127.0.0.1:8443", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return vendorsim.Run(ctx, *dir, *addr, slog.New(slog.NewTextHandler(stderr, nil)))
}

func checkConfig(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("check-config", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "config file (YAML)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cfgPath == "" {
		return errors.New("--config is required")
	}
	cfg, err := config.Load(*cfgPath, os.Environ())
	if err != nil {
		return err
	}
	if err := daemon.CheckClusterFiles(cfg.Cluster); err != nil {
		return fmt.Errorf("%s: %w", *cfgPath, err)
	}
	if err := daemon.CheckAPITLS(cfg.TLS); err != nil {
		return fmt.Errorf("%s: %w", *cfgPath, err)
	}
	fmt.Fprintf(stdout, "%s: ok (%d apps)\n", *cfgPath, len(cfg.Apps))
	return nil
}

// setGCPercent applies the config's gc_percent unless GOGC is set, which the Go
// runtime has applied already and which wins.
func setGCPercent(percent int) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(percent)
	}
}
