package config

import (
	"bytes"
	"github.com/pushd-im/pushd/push/vendors/vendorhttp"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pushd-im/pushd/push"
)

func TestDefault(t *testing.T) {
	c := Default()
	for _, tc := range []struct {
		key       string
		got, want any
	}{
		{"listen", c.Listen, "127.0.0.1:8080"},
		{"data_dir", c.DataDir, "./pushd-data"},
		{"heartbeat_timeout", c.HeartbeatTimeout.Std(), 30 * time.Second},
		{"ack_timeout", c.AckTimeout.Std(), 5 * time.Second},
		{"offline_retention", c.OfflineRetention.Std(), 168 * time.Hour},
		{"offline_max_per_stream", c.OfflineMaxPerStream, 1000},
		{"idempotency_window", c.IdempotencyWindow.Std(), 24 * time.Hour},
		{"user_idle_timeout", c.UserIdleTimeout.Std(), 2 * time.Minute},
		{"max_body_bytes", c.MaxBodyBytes, 1 << 20},
		{"gc_percent", c.GCPercent, 400},
		{"log_level", c.LogLevel, "info"},
		{"log_format", c.LogFormat, "text"},
		{"limits.read_timeout", c.Limits.ReadTimeout.Std(), 30 * time.Second},
		{"limits.write_timeout", c.Limits.WriteTimeout.Std(), 30 * time.Second},
		{"limits.idle_timeout", c.Limits.IdleTimeout.Std(), time.Minute},
		{"limits.max_http_connections", c.Limits.MaxHTTPConnections, 32768},
		{"limits.max_connections", c.Limits.MaxConnections, 100_000},
		{"limits.max_connections_per_ip", c.Limits.MaxConnectionsPerIP, 1000},
		{"limits.ws_send_queue_bytes", c.Limits.WSSendQueueBytes, 4 << 20},
		{"limits.min_free_disk_bytes", c.Limits.MinFreeDiskBytes, 256 << 20},
		{"limits.client_sends_per_second", c.Limits.ClientSendsPerSecond, 20},
		{"limits.client_send_burst", c.Limits.ClientSendBurst, 40},
		{"limits.server_sends_per_second", c.Limits.ServerSendsPerSecond, 0},
		{"limits.server_send_burst", c.Limits.ServerSendBurst, 0},
		{"limits.max_token_ttl", c.Limits.MaxTokenTTL.Std(), 720 * time.Hour},
		{"limits.vendor_window", c.Limits.VendorWindow, 10000},
		{"limits.vendor_breaker_failures", c.Limits.VendorBreakerFailures, 20},
		{"limits.vendor_breaker_backoff", c.Limits.VendorBreakerBackoff.Std(), time.Second},
		{"cluster.name", c.Cluster.Name, "node-1"},
		{"cluster.bind", c.Cluster.Bind, "127.0.0.1:7946"},
		{"cluster.advertise", c.Cluster.Advertise, ""},
		{"cluster.join", len(c.Cluster.Join), 0},
		{"cluster.remote", c.Cluster.Remote, "127.0.0.1:8090"},
		{"cluster.advertise_remote", c.Cluster.AdvertiseRemote, ""},
		{"simulator.enabled", c.Simulator.Enabled, false},
		{"simulator.addr", c.Simulator.Addr, "127.0.0.1:0"},
		{"apps", len(c.Apps), 0},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s = %v, want %v", tc.key, tc.got, tc.want)
		}
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Default() does not validate: %v", err)
	}
}

func TestEnsureDefaultsProviders(t *testing.T) {
	zero := 0
	c := &Config{Listen: "0.0.0.0:9000", Apps: []App{{
		ID: "a",
		Providers: Providers{
			push.APNs:   &APNs{EndpointDevelopment: "http://127.0.0.1:9/apns/"},
			push.FCM:    &FCM{},
			push.HMS:    &HMS{},
			push.Xiaomi: &Xiaomi{},
			push.OPPO:   &OPPO{Endpoint: "https://api-intl.push.oppomobile.com/"},
			push.Vivo:   &Vivo{Classification: &zero},
		},
	}, {ID: "b", Providers: Providers{push.Vivo: &Vivo{}}}}}
	c.EnsureDefaults()
	p := c.Apps[0].Providers
	for _, tc := range []struct{ key, got, want string }{
		{"listen (set, kept)", c.Listen, "0.0.0.0:9000"},
		{"apns.endpoint_production", p[push.APNs].(*APNs).EndpointProduction, "https://api.push.apple.com"},
		{"apns.endpoint_development (set, slash trimmed)", p[push.APNs].(*APNs).EndpointDevelopment, "http://127.0.0.1:9/apns"},
		{"fcm.endpoint", p[push.FCM].(*FCM).Endpoint, "https://fcm.googleapis.com"},
		{"hms.endpoint", p[push.HMS].(*HMS).Endpoint, "https://push-api.cloud.huawei.com"},
		{"hms.auth_endpoint", p[push.HMS].(*HMS).AuthEndpoint, "https://oauth-login.cloud.huawei.com/oauth2/v3/token"},
		{"xiaomi.endpoint", p[push.Xiaomi].(*Xiaomi).Endpoint, "https://api.xmpush.xiaomi.com"},
		{"oppo.endpoint (set, slash trimmed)", p[push.OPPO].(*OPPO).Endpoint, "https://api-intl.push.oppomobile.com"},
		{"vivo.endpoint", p[push.Vivo].(*Vivo).Endpoint, "https://api-push.vivo.com.cn"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.key, tc.got, tc.want)
		}
	}
	if got := *p[push.Vivo].(*Vivo).Classification; got != 0 {
		t.Errorf("vivo classification set to 0 became %d", got)
	}
	if got := *c.Apps[1].Providers[push.Vivo].(*Vivo).Classification; got != 1 {
		t.Errorf("vivo classification default = %d, want 1", got)
	}
}

func TestLookups(t *testing.T) {
	c := Default()
	c.Apps = []App{
		{ID: "a", APIKeys: []string{"key-a1", "key-a2"}, Providers: Providers{push.APNs: &APNs{}, push.Vivo: &Vivo{}}},
		{ID: "b", APIKeys: []string{"key-b"}},
	}
	if got := c.App("b"); got == nil || got.ID != "b" {
		t.Errorf("App(b) = %v", got)
	}
	if got := c.App("nope"); got != nil {
		t.Errorf("App(nope) = %v, want nil", got)
	}
	a := c.App("a")
	if got, want := a.Providers.Configured(), []push.Provider{push.APNs, push.Vivo}; !reflect.DeepEqual(got, want) {
		t.Errorf("Configured() = %v, want %v", got, want)
	}
}

// secretConfig has every secret set to a value that includes "SECRET".
func secretConfig() *Config {
	c := Default()
	c.Apps = []App{{
		ID:                "demo",
		APIKeys:           []string{"SECRET-api-key-1", "SECRET-api-key-2"},
		ClientTokenSecret: "SECRET-token-secret-0123456789",
		Providers: Providers{
			push.APNs:   &APNs{CertFile: "/x.p12", CertPassword: "SECRET-cert-pw", BundleID: "b"},
			push.HMS:    &HMS{OAuthBlock: vendorhttp.OAuthBlock{ClientID: "1", ClientSecret: "SECRET-hms"}},
			push.Xiaomi: &Xiaomi{AppSecret: "SECRET-mi", PackageName: "p"},
			push.OPPO:   &OPPO{AppKey: "k", MasterSecret: "SECRET-oppo"},
			push.Vivo:   &Vivo{AppID: 1, AppKey: "k", AppSecret: "SECRET-vivo"},
		},
	}}
	c.EnsureDefaults()
	return c
}

func TestRedactedHidesEverySecret(t *testing.T) {
	c := secretConfig()
	before := c.clone()
	r := c.Redacted()
	if !reflect.DeepEqual(c, before) {
		t.Fatal("Redacted changed the original")
	}
	if r.Apps[0].APIKeys[0] != redactedSecret || len(r.Apps[0].APIKeys) != 2 {
		t.Errorf("api_keys = %v", r.Apps[0].APIKeys)
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("start", "config", c)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("start", "config", c)
	for name, out := range map[string]string{"String": c.String(), "slog": logs.String()} {
		if strings.Contains(out, "SECRET") {
			t.Errorf("%s shows a secret:\n%s", name, out)
		}
		if !strings.Contains(out, "cert_file") || !strings.Contains(out, redactedSecret) {
			t.Errorf("%s lost the rest of the config:\n%s", name, out)
		}
	}
}

func TestCloneIsDeep(t *testing.T) {
	c := secretConfig()
	one := 1
	c.Cluster.Join = []string{"10.0.0.1:7946"}
	c.Apps[0].RateLimits = map[string]RateLimit{"apns": {QPS: 1}}
	c.Apps[0].Resources = map[string]map[string]Resource{"x": {"vivo": {Classification: &one}}}
	r := c.clone()
	r.Cluster.Join[0] = "changed"
	r.Apps[0].APIKeys[0] = "changed"
	r.Apps[0].Providers[push.APNs].(*APNs).BundleID = "changed"
	*r.Apps[0].Providers[push.Vivo].(*Vivo).Classification = 0
	r.Apps[0].RateLimits["apns"] = RateLimit{}
	*r.Apps[0].Resources["x"]["vivo"].Classification = 0
	if c.Cluster.Join[0] == "changed" || c.Apps[0].APIKeys[0] == "changed" ||
		c.Apps[0].Providers[push.APNs].(*APNs).BundleID == "changed" || *c.Apps[0].Providers[push.Vivo].(*Vivo).Classification != 1 ||
		c.Apps[0].RateLimits["apns"].QPS != 1 || *c.Apps[0].Resources["x"]["vivo"].Classification != 1 {
		t.Fatal("clone shares memory with the original")
	}
}

func TestRedactedHidesKidSecrets(t *testing.T) {
	c := &Config{Apps: []App{{ID: "a", ClientTokenSecrets: []TokenSecret{{Kid: "k1", Secret: "kid-secret-0123456789"}}}}}
	r := c.Redacted()
	if r.Apps[0].ClientTokenSecrets[0].Secret != redactedSecret || r.Apps[0].ClientTokenSecrets[0].Kid != "k1" {
		t.Fatalf("redacted kid secret: %+v", r.Apps[0].ClientTokenSecrets)
	}
	if c.Apps[0].ClientTokenSecrets[0].Secret != "kid-secret-0123456789" {
		t.Fatal("Redacted changed the original config")
	}
}
