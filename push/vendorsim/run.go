package vendorsim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/pushd-im/pushd/push"
)

// shutdownGrace is how long Run lets in-flight requests finish after ctx is done.
const shutdownGrace = 5 * time.Second

// Run is the standalone simulator (`pushd sim`): it loads the credentials in dir or
// generates them there, starts a Sim on addr ("" = 127.0.0.1:0), writes the FCM
// service-account file with the Sim's token URI, logs the URL, the credentials
// directory and the provider config for pushd, and serves until ctx is done.
func Run(ctx context.Context, dir, addr string, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	creds, err := LoadOrGenerateCredentials(abs)
	if err != nil {
		return err
	}
	s, err := New(Options{Credentials: creds, Addr: addr, Logger: logger})
	if err != nil {
		return err
	}
	if err := s.Start(); err != nil {
		return err
	}
	shutdown := func() error {
		sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		return s.Shutdown(sctx)
	}
	if err := s.WriteServiceAccountFile(abs); err != nil {
		return errors.Join(err, shutdown())
	}
	logger.Info("vendor simulator running",
		"url", s.URL(),
		"credentials", abs,
		"ca_file", filepath.Join(abs, FileCACert),
		"admin", s.URL()+adminPrefix+"/records",
		"providers", fmt.Sprint(s.Providers()))
	// The providers block goes to a file: a YAML block in a log line is
	// escaped onto one line and cannot be pasted into a config.
	providersFile := filepath.Join(abs, FilePushdProviders)
	if err := writeFileAtomic(providersFile, []byte(s.ConfigYAML(abs)), 0o600); err != nil {
		_ = shutdown()
		return err
	}
	logger.Info("pushd provider config for the simulator written; put it under an app of pushd's config", "file", providersFile)
	<-ctx.Done()
	return shutdown()
}

// WriteServiceAccountFile writes dir/fcm-service-account.json with token_uri set to
// the running Sim's FCM token endpoint.
func (s *Sim) WriteServiceAccountFile(dir string) error {
	tokenURI := s.AuthEndpoint(push.FCM)
	if tokenURI == "" {
		return errors.New("vendorsim: not started")
	}
	return writeFileAtomic(filepath.Join(dir, FileFCMServiceAccount), s.creds.ServiceAccountJSON(tokenURI), 0o600)
}

// ConfigYAML returns the providers block of a pushd app config that points every
// simulated provider at the running Sim, with file paths in dir (which should hold
// the Sim's credentials, as Save and WriteServiceAccountFile write them).
func (s *Sim) ConfigYAML(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	var b strings.Builder
	b.WriteString("providers:\n")
	for _, spec := range vendorSpecs() {
		if spec.config == nil {
			continue
		}
		entry := spec.config(configContext{
			creds:        s.creds,
			dir:          dir,
			endpoint:     s.Endpoint(spec.provider),
			authEndpoint: s.AuthEndpoint(spec.provider),
			caFile:       filepath.Join(dir, FileCACert),
		})
		for _, line := range strings.SplitAfter(entry, "\n") {
			if line != "" {
				b.WriteString("  " + line)
			}
		}
	}
	return b.String()
}
