package vendorsim

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// logCapture is a slog.Handler that hands every record's message and string
// attributes to a channel.
type logCapture struct {
	ch chan map[string]string
}

func (h logCapture) Enabled(context.Context, slog.Level) bool { return true }
func (h logCapture) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h logCapture) WithGroup(string) slog.Handler            { return h }
func (h logCapture) Handle(_ context.Context, r slog.Record) error {
	m := map[string]string{"msg": r.Message}
	r.Attrs(func(a slog.Attr) bool {
		m[a.Key] = a.Value.String()
		return true
	})
	select {
	case h.ch <- m:
	default: // the test reads only what it needs
	}
	return nil
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	logs := make(chan map[string]string, 64)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, dir, "127.0.0.1:0", slog.New(logCapture{ch: logs})) }()

	var baseURL, yaml string
	deadline := time.After(20 * time.Second)
	for yaml == "" {
		select {
		case m := <-logs:
			if m["msg"] == "vendor simulator running" {
				baseURL = m["url"]
			}
			if file := m["file"]; file != "" {
				b, err := os.ReadFile(file)
				if err != nil {
					t.Fatalf("the logged providers file: %v", err)
				}
				yaml = string(b)
			}
		case err := <-done:
			t.Fatalf("Run returned early: %v", err)
		case <-deadline:
			t.Fatal("Run did not log its config")
		}
	}
	if !strings.HasPrefix(baseURL, "https://127.0.0.1:") {
		t.Fatalf("url %q", baseURL)
	}
	for _, want := range []string{
		"providers:\n  apns:\n", "team_id:", "key_id:", `key_file: "` + filepath.Join(dir, FileAPNsKey) + `"`,
		`bundle_id: "im.pushd.demo"`, `endpoint_production: "` + baseURL + `/apns"`, `endpoint_development: "` + baseURL + `/apns/sandbox"`,
		`ca_file: "` + filepath.Join(dir, FileCACert) + `"`, "  fcm:\n",
		`service_account_file: "` + filepath.Join(dir, FileFCMServiceAccount) + `"`, `endpoint: "` + baseURL + `/fcm"`,
	} {
		if !strings.Contains(yaml, want) {
			t.Errorf("config snippet lacks %q:\n%s", want, yaml)
		}
	}

	creds, err := LoadCredentials(dir)
	if err != nil {
		t.Fatalf("credentials not saved: %v", err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, FileFCMServiceAccount))
	if err != nil {
		t.Fatal(err)
	}
	var sa map[string]string
	if err := json.Unmarshal(raw, &sa); err != nil || sa["token_uri"] != baseURL+"/fcm/token" {
		t.Fatalf("service account token_uri %q (%v)", sa["token_uri"], err)
	}

	// The running simulator grants a token for an assertion made from those credentials.
	tokenURI := sa["token_uri"]
	form := url.Values{"grant_type": {fcmGrantType}, "assertion": {fcmAssertion(t, creds, tokenURI, time.Now(), nil)}}
	r := do(t, clientFor(t, creds, false), http.MethodPost, tokenURI,
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, []byte(form.Encode()))
	if r.status != http.StatusOK {
		t.Fatalf("grant against Run's simulator: %d %s", r.status, r.body)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
