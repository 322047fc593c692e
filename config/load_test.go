package config

import (
	"errors"
	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/vendorhttp"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// writeFile writes a file in dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// loadString loads content as a config file in a temp dir.
func loadString(t *testing.T, content string, env ...string) (*Config, error) {
	t.Helper()
	return Load(writeFile(t, t.TempDir(), "pushd.yaml", content), env)
}

// problemsOf returns the problems of a Load or Validate error, failing the test for any other error.
func problemsOf(t *testing.T, err error) []Problem {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("error does not wrap ErrInvalid: %v", err)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error is not an *Error: %v", err)
	}
	return e.Problems
}

// findProblem returns the problem about key, failing the test when there is none.
func findProblem(t *testing.T, err error, key string) Problem {
	t.Helper()
	for _, p := range problemsOf(t, err) {
		if p.Key == key {
			return p
		}
	}
	t.Fatalf("no problem about %q in:\n%v", key, err)
	return Problem{}
}

const minimalApp = `
apps:
  - id: demo
    api_keys: [demo-key-0123456789]
    client_token_secret: 0123456789abcdef0123
`

// fullFile sets every key to something other than its default.
const fullFile = `
listen: 0.0.0.0:18080
data_dir: /var/lib/pushd
heartbeat_timeout: 45s
ack_timeout: 3s
offline_retention: 72h
offline_max_per_stream: 500
idempotency_window: 12h
user_idle_timeout: 90s
max_body_bytes: 2097152
gc_percent: 200
log_level: debug
log_format: json
limits:
  read_timeout: 10s
  write_timeout: 15s
  idle_timeout: 5m
  max_http_connections: 5000
  max_connections: 20000
  max_connections_per_ip: 50
  ws_send_queue_bytes: 1048576
  min_free_disk_bytes: 1073741824
  client_sends_per_second: 10
  client_send_burst: 15
  server_sends_per_second: 5000
  server_send_burst: 10000
  max_token_ttl: 168h
  vendor_window: 2000
  vendor_breaker_failures: 5
  vendor_breaker_backoff: 2s
cluster:
  name: node-7
  bind: 10.0.0.7:7946
  advertise: 203.0.113.7:7946
  join: [10.0.0.1:7946, 10.0.0.2:7946]
  remote: 10.0.0.7:8090
  advertise_remote: 203.0.113.7:8090
  bootstrap_expect: 3
  gossip_key_file: /keys/gossip.key
  tls: {cert_file: /keys/node-7.pem, key_file: /keys/node-7-key.pem, ca_file: /keys/cluster-ca.pem}
  cluster_id: prod-eu
  join_timeout: 2m
  raft: 10.0.0.7:7950
  advertise_raft: 203.0.113.7:7950
  replicas: 5
  dead_node_timeout: 10m
  max_moves: 4
  snapshot_bytes_per_second: 10485760
  request_timeout: 8s
simulator:
  enabled: true
  addr: 127.0.0.1:9999
apps:
  - id: chat
    api_keys: [chat-key-aaaaaaaaaaaa, chat-key-bbbbbbbbbbbb]
    client_token_secret: chat-secret-0123456789
    providers:
      apns:
        team_id: TEAM123456
        key_id: KEY1234567
        key_file: /keys/AuthKey.p8
        bundle_id: com.example.chat
        endpoint_production: http://127.0.0.1:1/apns-prod
        endpoint_development: http://127.0.0.1:1/apns-dev
        ca_file: /keys/ca.pem
        default_env: auto
      fcm:
        service_account_file: /keys/sa.json
        project_id: chat-prod
        endpoint: http://127.0.0.1:1/fcm
        ca_file: /keys/ca.pem
      hms:
        client_id: "1234"
        client_secret: hms-secret
        endpoint: http://127.0.0.1:1/hms
        auth_endpoint: http://127.0.0.1:1/hms/oauth2/v3/token
        category: IM
        ca_file: /keys/ca.pem
      xiaomi:
        app_secret: mi-secret
        package_name: com.example.chat
        endpoint: http://127.0.0.1:1/xiaomi
        channel_id: pre54
        ca_file: /keys/ca.pem
      oppo:
        app_key: oppo-key
        master_secret: oppo-secret
        endpoint: http://127.0.0.1:1/oppo
        channel_id: im
        category: IM
        ca_file: /keys/ca.pem
      vivo:
        app_id: 42
        app_key: vivo-key
        app_secret: vivo-secret
        endpoint: http://127.0.0.1:1/vivo
        classification: 0
        category: IM
        ca_file: /keys/ca.pem
    rate_limits:
      vivo: {qps: 2.5, daily_quota: 1000}
    resources:
      call:
        apns: {sound: ring.caf, channel_id: c, category: CALL, push_type: notification, importance: NORMAL, classification: 1}
  - id: other
    api_keys: [other-key-cccccccccc]
    client_token_secret: other-secret-0123456789
`

func fullConfig() *Config {
	zero, one := 0, 1
	return &Config{
		Listen:              "0.0.0.0:18080",
		DataDir:             "/var/lib/pushd",
		HeartbeatTimeout:    Duration(45 * time.Second),
		AckTimeout:          Duration(3 * time.Second),
		OfflineRetention:    Duration(72 * time.Hour),
		OfflineMaxPerStream: 500,
		IdempotencyWindow:   Duration(12 * time.Hour),
		UserIdleTimeout:     Duration(90 * time.Second),
		MaxBodyBytes:        2 << 20,
		GCPercent:           200,
		LogLevel:            "debug",
		LogFormat:           "json",
		Limits: Limits{ReadTimeout: Duration(10 * time.Second), WriteTimeout: Duration(15 * time.Second),
			IdleTimeout: Duration(5 * time.Minute), MaxHTTPConnections: 5000, MaxConnections: 20000,
			MaxConnectionsPerIP: 50, WSSendQueueBytes: 1 << 20, MinFreeDiskBytes: 1 << 30,
			ClientSendsPerSecond: 10, ClientSendBurst: 15, ServerSendsPerSecond: 5000, ServerSendBurst: 10000,
			MaxTokenTTL: Duration(168 * time.Hour), VendorWindow: 2000, VendorBreakerFailures: 5,
			VendorBreakerBackoff: Duration(2 * time.Second)},
		Cluster: Cluster{
			Name: "node-7", Bind: "10.0.0.7:7946", Advertise: "203.0.113.7:7946",
			Join:   []string{"10.0.0.1:7946", "10.0.0.2:7946"},
			Remote: "10.0.0.7:8090", AdvertiseRemote: "203.0.113.7:8090",
			BootstrapExpect: 3, GossipKeyFile: "/keys/gossip.key",
			TLS:       ClusterTLS{CertFile: "/keys/node-7.pem", KeyFile: "/keys/node-7-key.pem", CAFile: "/keys/cluster-ca.pem"},
			ClusterID: "prod-eu", JoinTimeout: Duration(2 * time.Minute),
			Raft: "10.0.0.7:7950", AdvertiseRaft: "203.0.113.7:7950", Replicas: 5, DeadNodeTimeout: Duration(10 * time.Minute), MaxMoves: 4,
			SnapshotBytesPerSecond: 10 << 20,
			RequestTimeout:         Duration(8 * time.Second),
		},
		Simulator: Simulator{Enabled: true, Addr: "127.0.0.1:9999"},
		Apps: []App{{
			ID:                "chat",
			APIKeys:           []string{"chat-key-aaaaaaaaaaaa", "chat-key-bbbbbbbbbbbb"},
			ClientTokenSecret: "chat-secret-0123456789",
			Providers: Providers{
				push.APNs: &APNs{TeamID: "TEAM123456", KeyID: "KEY1234567", KeyFile: "/keys/AuthKey.p8", BundleID: "com.example.chat",
					EndpointProduction: "http://127.0.0.1:1/apns-prod", EndpointDevelopment: "http://127.0.0.1:1/apns-dev", CAFile: "/keys/ca.pem", DefaultEnv: "auto"},
				push.FCM: &FCM{ServiceAccountFile: "/keys/sa.json", ProjectID: "chat-prod", Endpoint: "http://127.0.0.1:1/fcm", CAFile: "/keys/ca.pem"},
				push.HMS: &HMS{OAuthBlock: vendorhttp.OAuthBlock{ClientID: "1234", ClientSecret: "hms-secret", Endpoint: "http://127.0.0.1:1/hms",
					AuthEndpoint: "http://127.0.0.1:1/hms/oauth2/v3/token", Category: "IM", CAFile: "/keys/ca.pem"}},
				push.Xiaomi: &Xiaomi{AppSecret: "mi-secret", PackageName: "com.example.chat", Endpoint: "http://127.0.0.1:1/xiaomi",
					ChannelID: "pre54", CAFile: "/keys/ca.pem"},
				push.OPPO: &OPPO{AppKey: "oppo-key", MasterSecret: "oppo-secret", Endpoint: "http://127.0.0.1:1/oppo",
					ChannelID: "im", Category: "IM", CAFile: "/keys/ca.pem"},
				push.Vivo: &Vivo{AppID: 42, AppKey: "vivo-key", AppSecret: "vivo-secret", Endpoint: "http://127.0.0.1:1/vivo",
					Classification: &zero, Category: "IM", CAFile: "/keys/ca.pem"},
			},
			RateLimits: map[string]RateLimit{"vivo": {QPS: 2.5, DailyQuota: 1000}},
			Resources: map[string]map[string]Resource{"call": {"apns": {
				Sound: "ring.caf", ChannelID: "c", Category: "CALL", PushType: "notification", Importance: "NORMAL", Classification: &one}}},
		}, {
			ID:                "other",
			APIKeys:           []string{"other-key-cccccccccc"},
			ClientTokenSecret: "other-secret-0123456789",
		}},
	}
}

func TestLoadFullFileRoundTrip(t *testing.T) {
	got, err := loadString(t, fullFile)
	if err != nil {
		t.Fatal(err)
	}
	if want := fullConfig(); !reflect.DeepEqual(got, want) {
		t.Fatalf("loaded\n%#v\nwant\n%#v", got, want)
	}
	// What the config marshals to loads back to the same config.
	out, err := yaml.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	again, err := loadString(t, string(out))
	if err != nil {
		t.Fatalf("reloading the marshalled config: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(again, got) {
		t.Fatalf("round trip changed the config:\n%s", out)
	}
	// So does the default config.
	out, err = yaml.Marshal(Default())
	if err != nil {
		t.Fatal(err)
	}
	again, err = loadString(t, string(out))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, Default()) {
		t.Fatalf("default round trip changed the config:\n%s", out)
	}
}

func TestLoadEmptyFileIsDefault(t *testing.T) {
	for name, content := range map[string]string{"empty": "", "comments": "# nothing here\n", "null": "~\n", "empty map": "{}\n"} {
		t.Run(name, func(t *testing.T) {
			c, err := loadString(t, content)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c, Default()) {
				t.Fatalf("got %+v, want Default()", c)
			}
		})
	}
}

func TestLoadNoFile(t *testing.T) {
	c, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Simulator.Enabled = true
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("Load(\"\") = %+v, want Default() with the simulator on", c)
	}
	c, err = Load("", []string{"PUSHD_SIMULATOR_ENABLED=false", "PUSHD_LISTEN=127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Simulator.Enabled || c.Listen != "127.0.0.1:0" {
		t.Fatalf("env not applied with no file: %+v", c)
	}
	_, err = Load("", []string{"PUSHD_LISTEN=nope"})
	if p := findProblem(t, err, "listen"); !strings.Contains(p.Message, "PUSHD_LISTEN") {
		t.Errorf("problem does not name the variable that set it: %v", p)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), nil)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
	if errors.Is(err, ErrInvalid) {
		t.Fatalf("a missing file is not an invalid config: %v", err)
	}
}

// TestLoadDecodeProblems checks that each decoding problem names its key and line.
func TestLoadDecodeProblems(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		key        string
		line       int
		message    string
	}{
		{"unknown top-level key", "listen: 127.0.0.1:1\nlisten_addr: x\n", "listen_addr", 2, "unknown key"},
		{"unknown key with suggestion", "ack_timout: 5s\n", "ack_timeout" + "", 0, ""},
		{"unknown nested key", minimalApp + "    providers:\n      apns:\n        team_idd: X\n",
			"apps[0].providers.apns.team_idd", 8, "did you mean team_id?"},
		{"unknown key in flow mapping", minimalApp + "    rate_limits:\n      vivo: {qps: 1, daly_quota: 2}\n",
			"apps[0].rate_limits.vivo.daly_quota", 7, "did you mean daily_quota?"},
		{"unknown provider block", minimalApp + "    providers:\n      meizu: {}\n", "apps[0].providers.meizu", 7, "unknown provider"},
		{"duration as a number", "ack_timeout: 5\n", "ack_timeout", 1, `want a duration such as "5s"`},
		{"duration garbage", "heartbeat_timeout: soon\n", "heartbeat_timeout", 1, "got soon"},
		{"duration as a list", "offline_retention: [1h]\n", "offline_retention", 1, "got a list"},
		{"int as a string", "max_body_bytes: 1MiB\n", "max_body_bytes", 1, "want an integer, got 1MiB"},
		{"bool as a string", "simulator:\n  enabled: sure\n", "simulator.enabled", 2, "want true or false"},
		{"list as a string", "cluster:\n  join: 10.0.0.1:7946\n", "cluster.join", 2, "want a list of strings"},
		{"mapping as a list", "cluster: [a]\n", "cluster", 1, "want a mapping, got a list"},
		{"apps as a mapping", "apps:\n  id: x\n", "apps", 2, "want a list, got a mapping"},
		{"vivo app_id as a string", minimalApp + "    providers:\n      vivo: {app_id: abc, app_key: k, app_secret: s}\n",
			"apps[0].providers.vivo.app_id", 7, "want an integer, got abc"},
		{"duplicate key", "listen: 127.0.0.1:1\nlisten: 127.0.0.1:2\n", "listen", 2, "duplicate key (first at line 1)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadString(t, tc.file)
			if tc.name == "unknown key with suggestion" {
				p := findProblem(t, err, "ack_timout")
				if !strings.Contains(p.Message, "did you mean ack_timeout?") || p.Line != 1 {
					t.Fatalf("problem = %v", p)
				}
				return
			}
			p := findProblem(t, err, tc.key)
			if p.Line != tc.line || !strings.Contains(p.Message, tc.message) {
				t.Fatalf("problem = %v, want line %d and %q", p, tc.line, tc.message)
			}
			if !strings.Contains(err.Error(), tc.key+": ") {
				t.Fatalf("error text does not name %s:\n%v", tc.key, err)
			}
		})
	}
}

// TestLoadProblemsInsideValues checks that problems inside lists, maps,
// aliases and merged mappings name the key path where the value is used.
func TestLoadProblemsInsideValues(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		key        string
		line       int
		message    string
	}{
		{"list item of the wrong type", minimalApp + "  - id: b\n    api_keys: [k1, [k2]]\n",
			"apps[1].api_keys[1]", 7, "want a string, got a list"},
		{"wrong type in a map value", minimalApp + "    rate_limits:\n      vivo: {qps: fast}\n",
			"apps[0].rate_limits.vivo.qps", 7, "want a number, got fast"},
		{"map value not a mapping", minimalApp + "    rate_limits:\n      vivo: 5\n",
			"apps[0].rate_limits.vivo", 7, "want a mapping, got 5"},
		{"nested map value", minimalApp + "    resources:\n      call: {apns: {sound: [a]}}\n",
			"apps[0].resources.call.apns.sound", 7, "want a string, got a list"},
		{"alias of the wrong type", "x: &x [a]\nlisten: *x\n", "listen", 2, "want a string, got a list"},
		{"unknown key in a merged mapping", "cluster:\n  <<: {biind: 127.0.0.1:1}\n  name: n1\n",
			"cluster.biind", 2, "did you mean bind?"},
		{"a key twice more", "listen: a\nlisten: b\nlisten: c\n", "listen", 3, "duplicate key (first at line 1)"},
		{"a list as a key", "? [a]\n: 1\n", "", 1, "want a string, got a list"},
		{"long value cut", "max_body_bytes: 12345678901234567890x\n", "max_body_bytes", 1, "got 1234567..."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadString(t, tc.file)
			for _, p := range problemsOf(t, err) {
				if p.Key == tc.key && p.Line == tc.line && strings.Contains(p.Message, tc.message) {
					return
				}
			}
			t.Fatalf("no problem about %q at line %d saying %q in:\n%v", tc.key, tc.line, tc.message, err)
		})
	}
}

// TestLoadMergeAndAlias checks that merge keys and aliases load as yaml.v3
// decodes them: a key written in place wins over a merged one.
func TestLoadMergeAndAlias(t *testing.T) {
	c, err := loadString(t, `
cluster:
  <<: [{name: merged, bind: 127.0.0.1:17946}, {name: second, remote: 127.0.0.1:18090}]
  name: node-9
apps:
  - &app
    id: one
    api_keys: [key-one-0123456789]
    client_token_secret: 0123456789abcdef0123
    client_calls: false
  - <<: *app
    id: two
    api_keys: [key-two-0123456789]
    client_token_secret: 0123456789abcdef0123-two
`)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Cluster; got.Name != "node-9" || got.Bind != "127.0.0.1:17946" || got.Remote != "127.0.0.1:18090" {
		t.Errorf("cluster = %+v, want name node-9 (in place), bind from the first merge, remote from the second", got)
	}
	if len(c.Apps) != 2 || c.Apps[1].ID != "two" || c.Apps[1].ClientCalls == nil || *c.Apps[1].ClientCalls {
		t.Errorf("apps = %+v, want the second app to take the first one's client_calls", c.Apps)
	}
}

func TestLoadSyntaxErrors(t *testing.T) {
	for name, content := range map[string]string{
		"bad indentation": "listen: a\n  data_dir: b\n",
		"unclosed flow":   "cluster: {name: x\n",
		"tab indent":      "cluster:\n\tname: x\n",
		"two documents":   "listen: 127.0.0.1:1\n---\nlisten: 127.0.0.1:2\n",
		"second bad":      "listen: 127.0.0.1:1\n---\n: : :\n  - [\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := loadString(t, content)
			ps := problemsOf(t, err)
			if len(ps) != 1 {
				t.Fatalf("want one problem, got %v", err)
			}
			if name == "two documents" {
				if !strings.Contains(ps[0].Message, "more than one YAML document") {
					t.Fatalf("problem = %v", ps[0])
				}
			} else if ps[0].Line == 0 || !strings.Contains(ps[0].Message, "not valid YAML") {
				t.Fatalf("problem = %v, want a line and 'not valid YAML'", ps[0])
			}
		})
	}
}

// TestLoadReportsEveryProblem checks that decoding, environment and validation
// problems all come back in one error, one per line.
func TestLoadReportsEveryProblem(t *testing.T) {
	file := `
listen: nowhere
ack_timeout: 5
bogus: 1
offline_max_per_stream: 0
max_body_bytes: 1000
log_level: loud
apps:
  - id: "bad id"
    api_keys: [shared-key-0123456789]
    client_token_secret: short
  - id: ok
    api_keys: [shared-key-0123456789]
    providers:
      apns: {team_id: T}
      vivo: {app_id: x}
    rate_limits:
      apnss: {qps: -1}
`
	path := writeFile(t, t.TempDir(), "pushd.yaml", file)
	_, err := Load(path, []string{"PUSHD_FOO=1", "PUSHD_HEARTBEAT_TIMEOUT=forever"})
	want := map[string]string{
		"listen":                            "want host:port",
		"ack_timeout":                       "want a duration",
		"bogus":                             "unknown key",
		"max_body_bytes":                    "at least 65536",
		"log_level":                         "must be one of debug, info, warn, error",
		"apps[0].id":                        "must be 1 to 64 bytes",
		"apps[0].client_token_secret":       "at least 16 bytes, got 5",
		"apps[1].api_keys[0]":               "same key as apps[0].api_keys[0]",
		"apps[1].client_token_secret":       "required",
		"apps[1].providers.apns.key_id":     "required with team_id and key_file",
		"apps[1].providers.apns.key_file":   "required with team_id and key_id",
		"apps[1].providers.apns.bundle_id":  "required",
		"apps[1].providers.vivo.app_id":     "want an integer, got x",
		"apps[1].providers.vivo.app_key":    "required",
		"apps[1].providers.vivo.app_secret": "required (or app_secret_file)",
		"apps[1].rate_limits.apnss":         "unknown provider",
		"apps[1].rate_limits.apnss.qps":     "must be 0 (unlimited) or more",
		"PUSHD_FOO":                         "unknown variable",
		"PUSHD_HEARTBEAT_TIMEOUT":           `got "forever"`,
	}
	ps := problemsOf(t, err)
	got := map[string]Problem{}
	for _, p := range ps {
		if _, dup := got[p.Key]; dup {
			t.Errorf("two problems about %s:\n%v", p.Key, err)
		}
		got[p.Key] = p
	}
	for key, msg := range want {
		p, ok := got[key]
		if !ok {
			t.Errorf("missing problem about %s", key)
			continue
		}
		if !strings.Contains(p.Message, msg) {
			t.Errorf("%s: message %q does not contain %q", key, p.Message, msg)
		}
		if !strings.Contains(err.Error(), "\n  "+p.String()) {
			t.Errorf("%s is not on a line of its own in the error text", key)
		}
	}
	for key := range got {
		if _, ok := want[key]; !ok {
			t.Errorf("unexpected problem %v", got[key])
		}
	}
	if p := got["apps[1].providers.apns.bundle_id"]; p.Line != 15 {
		t.Errorf("a missing key is reported at its block's line: got %v, want line 15", p)
	}
	if !strings.HasPrefix(err.Error(), path+": invalid configuration (19 problems):\n") {
		t.Errorf("error text starts %q", strings.SplitN(err.Error(), "\n", 2)[0])
	}
}

func TestLoadSecretFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "secrets/token", "  token-secret-from-file-0123  \n")
	writeFile(t, dir, "secrets/keys", "# backend keys\nfile-key-1111111111\n\n  file-key-2222222222  \n")
	writeFile(t, dir, "secrets/hms", "hms-secret\n")
	writeFile(t, dir, "secrets/mi", "mi-secret\n")
	writeFile(t, dir, "secrets/oppo", "oppo-secret\n")
	writeFile(t, dir, "secrets/vivo", "vivo-secret\r\n")
	writeFile(t, dir, "secrets/p12pw", "p12-password\n")
	path := writeFile(t, dir, "conf/pushd.yaml", `
apps:
  - id: demo
    api_keys: [inline-key-0000000000]
    api_keys_file: ../secrets/keys
    client_token_secret_file: ../secrets/token
    providers:
      apns: {cert_file: ../secrets/apns.p12, cert_password_file: ../secrets/p12pw, bundle_id: b}
      fcm: {service_account_file: sa.json}
      hms: {client_id: "1", client_secret_file: ../secrets/hms}
      xiaomi: {app_secret_file: ../secrets/mi, package_name: p}
      oppo: {app_key: k, master_secret_file: ../secrets/oppo}
      vivo: {app_id: 1, app_key: k, app_secret_file: `+filepath.Join(dir, "secrets/vivo")+`}
`)
	c, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := c.Apps[0]
	p := a.Providers
	for _, tc := range []struct{ key, got, want string }{
		{"client_token_secret", a.ClientTokenSecret, "token-secret-from-file-0123"},
		{"api_keys", strings.Join(a.APIKeys, ","), "inline-key-0000000000,file-key-1111111111,file-key-2222222222"},
		{"apns.cert_password", p[push.APNs].(*APNs).CertPassword, "p12-password"},
		{"hms.client_secret", p[push.HMS].(*HMS).ClientSecret, "hms-secret"},
		{"xiaomi.app_secret", p[push.Xiaomi].(*Xiaomi).AppSecret, "mi-secret"},
		{"oppo.master_secret", p[push.OPPO].(*OPPO).MasterSecret, "oppo-secret"},
		{"vivo.app_secret", p[push.Vivo].(*Vivo).AppSecret, "vivo-secret"},
		// Relative paths are relative to the config file's directory.
		{"apns.cert_file", p[push.APNs].(*APNs).CertFile, filepath.Join(dir, "secrets/apns.p12")},
		{"fcm.service_account_file", p[push.FCM].(*FCM).ServiceAccountFile, filepath.Join(dir, "conf/sa.json")},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.key, tc.got, tc.want)
		}
	}
}

func TestLoadSecretFileProblems(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "empty", " \n\n")
	writeFile(t, dir, "comments-only", "# no keys yet\n")
	path := writeFile(t, dir, "pushd.yaml", `
apps:
  - id: demo
    api_keys_file: comments-only
    client_token_secret_file: missing-secret
    providers:
      hms: {client_id: "1", client_secret: inline, client_secret_file: empty}
      xiaomi: {app_secret_file: empty, package_name: p}
`)
	_, err := Load(path, nil)
	for key, want := range map[string]string{
		"apps[0].api_keys_file":                    `app "demo": ` + filepath.Join(dir, "comments-only") + " holds no API key",
		"apps[0].client_token_secret_file":         `app "demo": open ` + filepath.Join(dir, "missing-secret") + ": no such file",
		"apps[0].providers.hms.client_secret_file": "set client_secret or client_secret_file, not both",
		"apps[0].providers.xiaomi.app_secret_file": " is empty",
	} {
		p := findProblem(t, err, key)
		if !strings.Contains(p.Message, want) {
			t.Errorf("%s: %q does not contain %q", key, p.Message, want)
		}
		if p.Line == 0 {
			t.Errorf("%s: no line", key)
		}
	}
	// The consequences of an unreadable file are not reported a second time.
	for _, p := range problemsOf(t, err) {
		switch p.Key {
		case "apps[0].client_token_secret", "apps[0].providers.xiaomi.app_secret":
			t.Errorf("reported twice: %v", p)
		}
	}
}

func TestReadSecretFileTooLarge(t *testing.T) {
	path := writeFile(t, t.TempDir(), "big", strings.Repeat("x", maxSecretFileBytes+1))
	if _, err := readSecretFile(path); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("err = %v", err)
	}
}
