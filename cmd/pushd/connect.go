package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/pushd-im/pushd/daemon"
	"github.com/pushd-im/pushd/transport/api"
)

// connect is a small device: it opens /v1/connect, prints every frame as it
// comes, acks each message, and pings every 10 s so the connection stays online.
func connect(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("connect", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "pushd API address: host:port, or https://host:port for a node serving TLS (the system's CAs are trusted; SSL_CERT_FILE names another)")
	user := fs.String("user", "", "user id")
	device := fs.String("device", "", "device id")
	app := fs.String("app", daemon.DemoAppID, "app id")
	tok := fs.String("token", "", "client token (default: mint one from --config / the demo secrets)")
	cfgPath := fs.String("config", "", "config file holding the app's client_token_secret")
	dataDir := fs.String("data-dir", "", "data dir of a daemon running the built-in default")
	noAck := fs.Bool("no-ack", false, "print messages without acking them (they are pushed after ack_timeout)")
	background := fs.Bool("background", false, "report the app in the background (messages are pushed too)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *user == "" || *device == "" {
		return errors.New("--user and --device are required")
	}
	if *tok == "" {
		kid, secret, err := clientSecret(*app, *cfgPath, *dataDir, "")
		if err != nil {
			return err
		}
		if *tok, err = api.MintClientTokenWithKid(*app, *user, kid, []byte(secret), 24*time.Hour, time.Now()); err != nil {
			return err
		}
	}
	scheme, host := "ws", *addr
	if before, after, ok := strings.Cut(host, "://"); ok {
		switch strings.ToLower(before) {
		case "https", "wss":
			scheme = "wss"
		case "http", "ws":
		default:
			return fmt.Errorf("--addr: want host:port, http://host:port or https://host:port, got %q", *addr)
		}
		host = strings.TrimSuffix(after, "/")
	}
	u := url.URL{Scheme: scheme, Host: host, Path: "/v1/connect", RawQuery: "device_id=" + url.QueryEscape(*device)}
	ws, resp, err := websocket.DefaultDialer.Dial(u.String(), http.Header{"Authorization": {"Bearer " + *tok}})
	if err != nil {
		if resp != nil {
			body, _ := io.ReadAll(resp.Body)
			return fmt.Errorf("connect: %v: %s", err, body)
		}
		return fmt.Errorf("connect: %w", err)
	}
	defer ws.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	frames := make(chan map[string]any)
	readErr := make(chan error, 1)
	go func() {
		for {
			var f map[string]any
			if err := ws.ReadJSON(&f); err != nil {
				readErr <- err
				return
			}
			frames <- f
		}
	}()
	if *background {
		if err := ws.WriteJSON(map[string]any{"type": "state", "foreground": false}); err != nil {
			return err
		}
	}
	ping := time.NewTicker(10 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-readErr:
			return fmt.Errorf("connection closed: %w", err)
		case <-ping.C:
			if err := ws.WriteJSON(map[string]any{"type": "ping"}); err != nil {
				return err
			}
		case f := <-frames:
			b, _ := json.Marshal(f)
			fmt.Fprintln(stdout, string(b))
			if f["type"] == "message" && !*noAck {
				if err := ws.WriteJSON(map[string]any{"type": "ack", "stream": f["stream"], "seq": f["seq"]}); err != nil {
					return err
				}
			}
		}
	}
}

// clientSecret finds the secret to sign the app's client tokens with, and its
// kid: the client_token_secrets entry named kid, or without a kid the app's
// client_token_secret (the last of its client_token_secrets when it has none);
// for the demo app of a daemon on the built-in default, its secret in the data dir.
func clientSecret(app, cfgPath, dataDir, kid string) (string, string, error) {
	cfg, _, err := loadConfig(cfgPath)
	if err != nil {
		return "", "", err
	}
	if a := cfg.App(app); a != nil {
		for _, ts := range a.ClientTokenSecrets {
			if ts.Kid == kid {
				return kid, ts.Secret, nil
			}
		}
		switch {
		case kid != "":
			return "", "", fmt.Errorf("app %q has no client_token_secrets entry with kid %q", app, kid)
		case a.ClientTokenSecret == "" && len(a.ClientTokenSecrets) > 0:
			last := a.ClientTokenSecrets[len(a.ClientTokenSecrets)-1]
			return last.Kid, last.Secret, nil
		}
		return "", a.ClientTokenSecret, nil
	}
	if app != daemon.DemoAppID {
		return "", "", fmt.Errorf("app %q is not in the config", app)
	}
	if kid != "" {
		return "", "", errors.New("--kid needs a config whose app lists client_token_secrets")
	}
	if dataDir == "" {
		dataDir = cfg.DataDir
	}
	_, secret, err := daemon.LoadDemoSecrets(dataDir, false)
	return "", secret, err
}
