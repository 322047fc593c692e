package daemon

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/pushd-im/pushd/config"
)

// DemoAppID is the app the built-in default config serves.
const DemoAppID = "demo"

// demoSecrets are the demo app's API key and client-token secret, generated on
// first start and kept in the data dir so that `pushd token` and restarts agree.
type demoSecrets struct {
	APIKey            string `json:"api_key"`
	ClientTokenSecret string `json:"client_token_secret"`
}

func demoSecretsPath(dataDir string) string { return filepath.Join(dataDir, "demo-app.json") }

// LoadDemoSecrets reads the demo app's secrets from the data dir, generating
// them the first time.
func LoadDemoSecrets(dataDir string, create bool) (apiKey, clientSecret string, err error) {
	p := demoSecretsPath(dataDir)
	b, err := os.ReadFile(p)
	if err == nil {
		var s demoSecrets
		if err := json.Unmarshal(b, &s); err != nil || s.APIKey == "" || s.ClientTokenSecret == "" {
			return "", "", fmt.Errorf("daemon: %s is damaged; delete it to make new demo secrets", p)
		}
		return s.APIKey, s.ClientTokenSecret, nil
	}
	if !errors.Is(err, fs.ErrNotExist) || !create {
		return "", "", fmt.Errorf("daemon: read demo secrets: %w (run `pushd serve` once without --config to create them)", err)
	}
	s := demoSecrets{APIKey: "pk_" + randomHex(16), ClientTokenSecret: randomHex(32)}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", "", fmt.Errorf("daemon: %w", err)
	}
	b, _ = json.MarshalIndent(s, "", "  ")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		return "", "", fmt.Errorf("daemon: write demo secrets: %w", err)
	}
	return s.APIKey, s.ClientTokenSecret, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// DefaultConfig is what `pushd serve` runs without --config: the defaults with
// the in-process vendor simulator (config.Load("") turns it on) and, added at
// start, the demo app.
func DefaultConfig(env []string) (*config.Config, error) {
	return config.Load("", env)
}
