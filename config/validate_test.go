package config

import (
	"errors"
	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/vendorhttp"
	"math"
	"strings"
	"testing"
)

// validConfig is a config with one app using every provider; it validates.
func validConfig() *Config {
	c := Default()
	c.Apps = []App{{
		ID:                "app_1-.@:Z",
		APIKeys:           []string{"key-one-0123456789"},
		ClientTokenSecret: "0123456789abcdef",
		Providers: Providers{
			push.APNs:   &APNs{TeamID: "T", KeyID: "K", KeyFile: "/k.p8", BundleID: "com.example"},
			push.FCM:    &FCM{ServiceAccountFile: "/sa.json"},
			push.HMS:    &HMS{OAuthBlock: vendorhttp.OAuthBlock{ClientID: "1", ClientSecret: "s"}},
			push.Xiaomi: &Xiaomi{AppSecret: "s", PackageName: "p"},
			push.OPPO:   &OPPO{AppKey: "k", MasterSecret: "s"},
			push.Vivo:   &Vivo{AppID: 1, AppKey: "k", AppSecret: "s"},
		},
		RateLimits: map[string]RateLimit{"apns": {QPS: 10, DailyQuota: 5}, "vivo": {}},
		Resources:  map[string]map[string]Resource{"call": {"fcm": {PushType: "passthrough"}, "apns": {PushType: "notification"}}},
	}, {
		ID:                "app2",
		APIKeys:           []string{"key-two-0123456789"},
		ClientTokenSecret: "0123456789abcdef-second-app",
	}}
	c.EnsureDefaults()
	return c
}

func TestValidConfig(t *testing.T) {
	if err := validConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	c := validConfig()
	c.Apps[0].Providers[push.APNs] = &APNs{CertFile: "/c.p12", CertPassword: "pw", BundleID: "b"}
	c.EnsureDefaults()
	c.Listen, c.Cluster.Bind, c.Cluster.Remote = ":0", ":0", ":0" // port 0 three times is fine
	c.Cluster.Join = []string{"[::1]:7946", "node-2.example:7946"}
	c.Cluster.GossipKeyFile = "/gossip.key"
	c.Cluster.TLS = ClusterTLS{CertFile: "/node.pem", KeyFile: "/node-key.pem", CAFile: "/ca.pem"}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidateProblems(t *testing.T) {
	nine := 9
	for _, tc := range []struct {
		name    string
		change  func(c *Config)
		key     string
		message string
	}{
		{"listen without port", func(c *Config) { c.Listen = "127.0.0.1" }, "listen", "want host:port"},
		{"listen named port", func(c *Config) { c.Listen = "127.0.0.1:http" }, "listen", "port must be a number"},
		{"listen port too big", func(c *Config) { c.Listen = "127.0.0.1:65536" }, "listen", "port must be a number from 0 to 65535"},
		{"data_dir empty", func(c *Config) { c.DataDir = "" }, "data_dir", "required"},
		{"heartbeat 0", func(c *Config) { c.HeartbeatTimeout = 0 }, "heartbeat_timeout", "must be more than 0"},
		{"ack negative", func(c *Config) { c.AckTimeout = -1 }, "ack_timeout", "must be more than 0"},
		{"retention 0", func(c *Config) { c.OfflineRetention = 0 }, "offline_retention", "must be more than 0"},
		{"idempotency 0", func(c *Config) { c.IdempotencyWindow = 0 }, "idempotency_window", "must be more than 0"},
		{"idle 0", func(c *Config) { c.UserIdleTimeout = 0 }, "user_idle_timeout", "must be more than 0"},
		{"max per stream 0", func(c *Config) { c.OfflineMaxPerStream = 0 }, "offline_max_per_stream", "must be 1 to 1000000"},
		{"max per stream too many", func(c *Config) { c.OfflineMaxPerStream = 1_000_001 }, "offline_max_per_stream", "got 1000001"},
		{"body too small", func(c *Config) { c.MaxBodyBytes = 64<<10 - 1 }, "max_body_bytes", "at least 65536"},
		{"read timeout 0", func(c *Config) { c.Limits.ReadTimeout = 0 }, "limits.read_timeout", "must be more than 0"},
		{"write timeout negative", func(c *Config) { c.Limits.WriteTimeout = -1 }, "limits.write_timeout", "must be more than 0"},
		{"idle timeout 0", func(c *Config) { c.Limits.IdleTimeout = 0 }, "limits.idle_timeout", "must be more than 0"},
		{"max http connections 0", func(c *Config) { c.Limits.MaxHTTPConnections = 0 }, "limits.max_http_connections", "at least 1, got 0"},
		{"max connections negative", func(c *Config) { c.Limits.MaxConnections = -5 }, "limits.max_connections", "at least 1, got -5"},
		{"max connections per ip 0", func(c *Config) { c.Limits.MaxConnectionsPerIP = 0 }, "limits.max_connections_per_ip", "at least 1"},
		{"client rate below -1", func(c *Config) { c.Limits.ClientSendsPerSecond = -5 }, "limits.client_sends_per_second", "must be -1"},
		{"disk reserve below -1", func(c *Config) { c.Limits.MinFreeDiskBytes = -2 }, "limits.min_free_disk_bytes", "must be -1"},
		{"vendor window negative", func(c *Config) { c.Limits.VendorWindow = -3 }, "limits.vendor_window", "at least 1, got -3"},
		{"breaker failures negative", func(c *Config) { c.Limits.VendorBreakerFailures = -1 }, "limits.vendor_breaker_failures", "at least 1, got -1"},
		{"breaker backoff negative", func(c *Config) { c.Limits.VendorBreakerBackoff = -1 }, "limits.vendor_breaker_backoff", "must be more than 0"},
		{"send queue too small", func(c *Config) { c.Limits.WSSendQueueBytes = 64<<10 - 1 }, "limits.ws_send_queue_bytes", "at least 65536"},
		{"gc percent too small", func(c *Config) { c.GCPercent = 10 }, "gc_percent", "must be 25 to 10000, got 10"},
		{"log level", func(c *Config) { c.LogLevel = "INFO" }, "log_level", `got "INFO"`},
		{"log format", func(c *Config) { c.LogFormat = "logfmt" }, "log_format", "must be one of text, json"},
		{"cluster name", func(c *Config) { c.Cluster.Name = "" }, "cluster.name", "required"},
		{"bind", func(c *Config) { c.Cluster.Bind = "x" }, "cluster.bind", "want host:port"},
		{"advertise without host", func(c *Config) { c.Cluster.Advertise = ":7946" }, "cluster.advertise", "want a reachable host:port"},
		{"join port 0", func(c *Config) { peered(c); c.Cluster.Join = []string{"a:1", "b:0"} }, "cluster.join[1]", "want a reachable host:port"},
		{"bootstrap_expect 0", func(c *Config) { c.Cluster.BootstrapExpect = 0 }, "cluster.bootstrap_expect", "at least 1"},
		{"join_timeout 0", func(c *Config) { c.Cluster.JoinTimeout = 0 }, "cluster.join_timeout", "more than 0"},
		{"raft address", func(c *Config) { c.Cluster.Raft = "nowhere" }, "cluster.raft", ""},
		{"replicas 0", func(c *Config) { c.Cluster.Replicas = 0 }, "cluster.replicas", "1 to 7"},
		{"dead_node_timeout 0", func(c *Config) { c.Cluster.DeadNodeTimeout = 0 }, "cluster.dead_node_timeout", "more than 0"},
		{"snapshot_bytes_per_second -2", func(c *Config) { c.Cluster.SnapshotBytesPerSecond = -2 }, "cluster.snapshot_bytes_per_second", "-1 (no limit) or more than 0"},
		{"request_timeout negative", func(c *Config) { c.Cluster.RequestTimeout = -1 }, "cluster.request_timeout", "more than 0"},
		{"join without gossip key", func(c *Config) { peered(c); c.Cluster.GossipKeyFile = ""; c.Cluster.Join = []string{"a:1"} },
			"cluster.gossip_key_file", "required when the node has peers"},
		{"bootstrap_expect without ca", func(c *Config) { peered(c); c.Cluster.TLS.CAFile = ""; c.Cluster.BootstrapExpect = 3 },
			"cluster.tls.ca_file", "required when the node has peers"},
		{"tls without key file", func(c *Config) { peered(c); c.Cluster.TLS.KeyFile = "" }, "cluster.tls.key_file", "required when the node has peers"},
		{"remote", func(c *Config) { c.Cluster.Remote = "" }, "cluster.remote", "want host:port"},
		{"advertise_remote", func(c *Config) { c.Cluster.AdvertiseRemote = "host" }, "cluster.advertise_remote", "want host:port"},
		{"remote same as listen", func(c *Config) { c.Cluster.Remote = c.Listen }, "cluster.remote", "same address as listen"},
		{"simulator addr", func(c *Config) { c.Simulator.Addr = "nope" }, "simulator.addr", "want host:port"},
		{"app id empty", func(c *Config) { c.Apps[1].ID = "" }, "apps[1].id", "must be 1 to 64 bytes"},
		{"app id alphabet", func(c *Config) { c.Apps[1].ID = "a/b" }, "apps[1].id", `got "a/b"`},
		{"app id too long", func(c *Config) { c.Apps[1].ID = strings.Repeat("a", 65) }, "apps[1].id", "must be 1 to 64 bytes"},
		{"app id duplicate", func(c *Config) { c.Apps[1].ID = c.Apps[0].ID }, "apps[1].id", "is already the id of apps[0]"},
		{"no api key", func(c *Config) { c.Apps[1].APIKeys = nil }, "apps[1].api_keys", "at least one API key"},
		{"empty api key", func(c *Config) { c.Apps[1].APIKeys = []string{"ok-key-0123456789", ""} }, "apps[1].api_keys[1]", "must not be empty"},
		{"api key with space", func(c *Config) { c.Apps[1].APIKeys = []string{"my key"} }, "apps[1].api_keys[0]", "must not contain spaces"},
		{"api key shared", func(c *Config) { c.Apps[1].APIKeys = []string{"x-key-000000000000", c.Apps[0].APIKeys[0]} },
			"apps[1].api_keys[1]", "same key as apps[0].api_keys[0]"},
		{"kid secret without a plain one", func(c *Config) {
			c.Apps[1].ClientTokenSecret = ""
			c.Apps[1].ClientTokenSecrets = []TokenSecret{{Kid: "k 1", Secret: "kid-secret-0123456789"}}
		}, "apps[1].client_token_secrets[0].kid", "must be 1 to 64 bytes"},
		{"kid twice", func(c *Config) {
			c.Apps[1].ClientTokenSecrets = []TokenSecret{{Kid: "k1", Secret: "kid-secret-0123456789"}, {Kid: "k1", Secret: "kid-secret-9876543210"}}
		}, "apps[1].client_token_secrets[1].kid", `"k1" is already the kid of client_token_secrets[0]`},
		{"kid secret too short", func(c *Config) { c.Apps[1].ClientTokenSecrets = []TokenSecret{{Kid: "k1", Secret: "short"}} },
			"apps[1].client_token_secrets[0].secret", "at least 16 bytes"},
		{"kid secret of another app", func(c *Config) {
			c.Apps[1].ClientTokenSecrets = []TokenSecret{{Kid: "k1", Secret: c.Apps[0].ClientTokenSecret}}
		}, "apps[1].client_token_secrets[0].secret", "same secret as apps[0].client_token_secret"},
		{"client token secret shared", func(c *Config) { c.Apps[1].ClientTokenSecret = c.Apps[0].ClientTokenSecret },
			"apps[1].client_token_secret", "same secret as apps[0].client_token_secret"},
		{"api key too short", func(c *Config) { c.Apps[1].APIKeys = []string{"short-key"} }, "apps[1].api_keys[0]", "at least 16 characters"},
		{"hashed api key not hex", func(c *Config) { c.Apps[1].APIKeys = []string{"sha256:zz"} }, "apps[1].api_keys[0]", "64 hex digits"},
		{"hashed api key equals a clear one", func(c *Config) {
			c.Apps[1].APIKeys = []string{APIKeyDigestPrefix + APIKeyDigest(c.Apps[0].APIKeys[0])}
		}, "apps[1].api_keys[0]", "same key as apps[0].api_keys[0]"},
		{"api key twice in one app", func(c *Config) { c.Apps[1].APIKeys = []string{"dup-key-0000000000", "dup-key-0000000000"} },
			"apps[1].api_keys[1]", "same key as apps[1].api_keys[0]"},
		{"no token secret", func(c *Config) { c.Apps[1].ClientTokenSecret = "" }, "apps[1].client_token_secret", "required (or client_token_secret_file, or client_token_secrets)"},
		{"short token secret", func(c *Config) { c.Apps[1].ClientTokenSecret = "0123456789abcde" }, "apps[1].client_token_secret", "at least 16 bytes, got 15"},
		{"apns no auth", func(c *Config) {
			c.Apps[0].Providers[push.APNs].(*APNs).TeamID, c.Apps[0].Providers[push.APNs].(*APNs).KeyID, c.Apps[0].Providers[push.APNs].(*APNs).KeyFile = "", "", ""
		},
			"apps[0].providers.apns", "set team_id, key_id and key_file (token auth) or cert_file"},
		{"apns both auths", func(c *Config) { c.Apps[0].Providers[push.APNs].(*APNs).CertFile = "/c.p12" }, "apps[0].providers.apns", "not both"},
		{"apns key_file missing", func(c *Config) { c.Apps[0].Providers[push.APNs].(*APNs).KeyFile = "" },
			"apps[0].providers.apns.key_file", "required with team_id and key_id"},
		{"apns team_id missing", func(c *Config) { c.Apps[0].Providers[push.APNs].(*APNs).TeamID = "" },
			"apps[0].providers.apns.team_id", "required with key_id and key_file"},
		{"apns cert password without cert", func(c *Config) { c.Apps[0].Providers[push.APNs].(*APNs).CertPassword = "pw" },
			"apps[0].providers.apns.cert_password", "only used with cert_file"},
		{"apns bundle", func(c *Config) { c.Apps[0].Providers[push.APNs].(*APNs).BundleID = "" }, "apps[0].providers.apns.bundle_id", "required"},
		{"apns endpoint relative", func(c *Config) { c.Apps[0].Providers[push.APNs].(*APNs).EndpointProduction = "api.push.apple.com" },
			"apps[0].providers.apns.endpoint_production", "want an absolute http or https URL"},
		{"apns default_env", func(c *Config) { c.Apps[0].Providers[push.APNs].(*APNs).DefaultEnv = "sandbox" },
			"apps[0].providers.apns.default_env", `got "sandbox"`},
		{"apns dev endpoint scheme", func(c *Config) { c.Apps[0].Providers[push.APNs].(*APNs).EndpointDevelopment = "h2://x" },
			"apps[0].providers.apns.endpoint_development", `got "h2://x"`},
		{"fcm account", func(c *Config) { c.Apps[0].Providers[push.FCM].(*FCM).ServiceAccountFile = "" }, "apps[0].providers.fcm.service_account_file", "required"},
		{"fcm endpoint", func(c *Config) { c.Apps[0].Providers[push.FCM].(*FCM).Endpoint = "https://" }, "apps[0].providers.fcm.endpoint", "absolute"},
		{"hms client_id", func(c *Config) { c.Apps[0].Providers[push.HMS].(*HMS).ClientID = "" }, "apps[0].providers.hms.client_id", "required"},
		{"hms client_secret", func(c *Config) { c.Apps[0].Providers[push.HMS].(*HMS).ClientSecret = "" }, "apps[0].providers.hms.client_secret", "required (or client_secret_file)"},
		{"hms auth endpoint", func(c *Config) { c.Apps[0].Providers[push.HMS].(*HMS).AuthEndpoint = "/oauth2" }, "apps[0].providers.hms.auth_endpoint", "absolute"},
		{"hms endpoint", func(c *Config) { c.Apps[0].Providers[push.HMS].(*HMS).Endpoint = "::" }, "apps[0].providers.hms.endpoint", "absolute"},
		{"hms badge_class", func(c *Config) { c.Apps[0].Providers[push.HMS].(*HMS).BadgeClass = "Main Activity" }, "apps[0].providers.hms.badge_class", "is not a class name"},
		{"xiaomi secret", func(c *Config) { c.Apps[0].Providers[push.Xiaomi].(*Xiaomi).AppSecret = "" }, "apps[0].providers.xiaomi.app_secret", "required (or app_secret_file)"},
		{"xiaomi package", func(c *Config) { c.Apps[0].Providers[push.Xiaomi].(*Xiaomi).PackageName = "" }, "apps[0].providers.xiaomi.package_name", "required"},
		{"xiaomi endpoint", func(c *Config) { c.Apps[0].Providers[push.Xiaomi].(*Xiaomi).Endpoint = "" }, "apps[0].providers.xiaomi.endpoint", "absolute"},
		{"oppo key", func(c *Config) { c.Apps[0].Providers[push.OPPO].(*OPPO).AppKey = "" }, "apps[0].providers.oppo.app_key", "required"},
		{"oppo secret", func(c *Config) { c.Apps[0].Providers[push.OPPO].(*OPPO).MasterSecret = "" }, "apps[0].providers.oppo.master_secret", "required (or master_secret_file)"},
		{"oppo endpoint", func(c *Config) { c.Apps[0].Providers[push.OPPO].(*OPPO).Endpoint = "file:///x" }, "apps[0].providers.oppo.endpoint", "absolute"},
		{"vivo app_id", func(c *Config) { c.Apps[0].Providers[push.Vivo].(*Vivo).AppID = 0 }, "apps[0].providers.vivo.app_id", "required"},
		{"vivo app_key", func(c *Config) { c.Apps[0].Providers[push.Vivo].(*Vivo).AppKey = "" }, "apps[0].providers.vivo.app_key", "required"},
		{"vivo app_secret", func(c *Config) { c.Apps[0].Providers[push.Vivo].(*Vivo).AppSecret = "" }, "apps[0].providers.vivo.app_secret", "required (or app_secret_file)"},
		{"vivo classification", func(c *Config) { c.Apps[0].Providers[push.Vivo].(*Vivo).Classification = &nine }, "apps[0].providers.vivo.classification", "must be 0 (operations) or 1 (system), got 9"},
		{"vivo endpoint", func(c *Config) { c.Apps[0].Providers[push.Vivo].(*Vivo).Endpoint = "vivo" }, "apps[0].providers.vivo.endpoint", "absolute"},
		{"rate limit provider", func(c *Config) { c.Apps[0].RateLimits["meizu"] = RateLimit{} }, "apps[0].rate_limits.meizu", `unknown provider "meizu"`},
		{"rate limit qps", func(c *Config) { c.Apps[0].RateLimits["apns"] = RateLimit{QPS: -0.5} }, "apps[0].rate_limits.apns.qps", "must be 0 (unlimited) or more"},
		{"rate limit qps NaN", func(c *Config) { c.Apps[0].RateLimits["apns"] = RateLimit{QPS: math.NaN()} }, "apps[0].rate_limits.apns.qps", "got NaN"},
		{"rate limit qps Inf", func(c *Config) { c.Apps[0].RateLimits["apns"] = RateLimit{QPS: math.Inf(1)} }, "apps[0].rate_limits.apns.qps", "got +Inf"},
		{"rate limit quota", func(c *Config) { c.Apps[0].RateLimits["vivo"] = RateLimit{DailyQuota: -1} }, "apps[0].rate_limits.vivo.daily_quota", "got -1"},
		{"resource provider", func(c *Config) { c.Apps[0].Resources["call"]["meizu"] = Resource{} }, "apps[0].resources.call.meizu", `unknown provider "meizu"`},
		{"resource push_type", func(c *Config) { c.Apps[0].Resources["call"]["fcm"] = Resource{PushType: "data"} },
			"apps[0].resources.call.fcm.push_type", `must be notification or passthrough, got "data"`},
		{"resource classification", func(c *Config) { c.Apps[0].Resources["call"]["vivo"] = Resource{Classification: &nine} },
			"apps[0].resources.call.vivo.classification", "got 9"},
		{"resource empty id", func(c *Config) { c.Apps[0].Resources[""] = map[string]Resource{} }, "apps[0].resources.", "must not be empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.change(c)
			err := c.Validate()
			ps := problemsOf(t, err)
			if len(ps) != 1 {
				t.Fatalf("want exactly one problem, got:\n%v", err)
			}
			if ps[0].Key != tc.key || !strings.Contains(ps[0].Message, tc.message) {
				t.Fatalf("problem = %v, want %s: ...%s...", ps[0], tc.key, tc.message)
			}
		})
	}
}

func TestValidateZeroConfigListsEverything(t *testing.T) {
	c := &Config{Apps: []App{{Providers: Providers{push.APNs: &APNs{}, push.Vivo: &Vivo{}}}}}
	err := c.Validate()
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v", err)
	}
	ps := problemsOf(t, err)
	if len(ps) < 20 {
		t.Fatalf("only %d problems for an empty config:\n%v", len(ps), err)
	}
	if lines := strings.Count(err.Error(), "\n"); lines != len(ps) {
		t.Fatalf("%d problems on %d lines:\n%v", len(ps), lines, err)
	}
}

func TestProblemString(t *testing.T) {
	for _, tc := range []struct {
		p    Problem
		want string
	}{
		{Problem{Key: "listen", Message: "bad"}, "listen: bad"},
		{Problem{Key: "listen", Line: 3, Message: "bad"}, "listen: bad (line 3)"},
		{Problem{Line: 3, Message: "not valid YAML: x"}, "not valid YAML: x (line 3)"},
	} {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
	e := &Error{Problems: []Problem{{Key: "a", Message: "b"}}}
	if got, want := e.Error(), "config: invalid configuration (1 problem):\n  a: b"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// peered gives c the gossip key and TLS files a node with peers needs.
func peered(c *Config) {
	c.Cluster.GossipKeyFile = "/gossip.key"
	c.Cluster.TLS = ClusterTLS{CertFile: "/node.pem", KeyFile: "/node-key.pem", CAFile: "/ca.pem"}
}

// TestValidateRefusesPlainHTTPVendorEndpoints: a vendor request carries the
// app's credentials and its users' tokens, so an http:// endpoint is refused,
// naming the key, unless the simulator is on.
func TestValidateRefusesPlainHTTPVendorEndpoints(t *testing.T) {
	c := validConfig()
	c.Apps[0].Providers[push.APNs].(*APNs).EndpointDevelopment = "http://apns.internal:8443"
	c.Apps[0].Providers[push.HMS].(*HMS).AuthEndpoint = "HTTP://oauth.internal/token"
	c.Apps[0].Providers[push.Xiaomi].(*Xiaomi).Endpoint = "https://xiaomi.internal"
	err := c.Validate()
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("want a config error, got %v", err)
	}
	keys := map[string]string{}
	for _, p := range ce.Problems {
		keys[p.Key] = p.Message
	}
	for _, k := range []string{"apps[0].providers.apns.endpoint_development", "apps[0].providers.hms.auth_endpoint"} {
		if m := keys[k]; !strings.Contains(m, "https") || !strings.Contains(m, "simulator.enabled") {
			t.Errorf("%s: got %q, want a message asking for https", k, m)
		}
	}
	if len(ce.Problems) != 2 {
		t.Errorf("want exactly the two http endpoints, got %v", ce.Problems)
	}
	c.Simulator.Enabled = true
	if err := c.Validate(); err != nil {
		t.Errorf("with the simulator on, http endpoints are allowed: %v", err)
	}
}
