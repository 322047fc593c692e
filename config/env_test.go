package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestEnvOverrides(t *testing.T) {
	file := "listen: 127.0.0.1:1111\nack_timeout: 9s\ncluster:\n  join: [10.0.0.9:7946]\n" + minimalApp
	env := []string{
		"HOME=/root", // not ours: ignored
		"PUSHD_CONFIG=/etc/pushd.yaml",
		"PUSHD_LISTEN=127.0.0.1:2222", // overrides the file
		"PUSHD_DATA_DIR=/data",
		"PUSHD_HEARTBEAT_TIMEOUT=1m",
		"PUSHD_ACK_TIMEOUT=2s",
		"PUSHD_OFFLINE_RETENTION=48h",
		"PUSHD_OFFLINE_MAX_PER_STREAM=77",
		"PUSHD_IDEMPOTENCY_WINDOW=1h",
		"PUSHD_USER_IDLE_TIMEOUT=10s",
		"PUSHD_MAX_BODY_BYTES=131072",
		"PUSHD_GC_PERCENT=150",
		"PUSHD_LOG_LEVEL=warn",
		"PUSHD_LOG_FORMAT=json",
		"PUSHD_LIMITS_READ_TIMEOUT=7s",
		"PUSHD_LIMITS_WRITE_TIMEOUT=8s",
		"PUSHD_LIMITS_IDLE_TIMEOUT=9s",
		"PUSHD_LIMITS_MAX_HTTP_CONNECTIONS=1001",
		"PUSHD_LIMITS_MAX_CONNECTIONS=1002",
		"PUSHD_LIMITS_MAX_CONNECTIONS_PER_IP=1003",
		"PUSHD_LIMITS_WS_SEND_QUEUE_BYTES=1000000",
		"PUSHD_LIMITS_MIN_FREE_DISK_BYTES=-1",
		"PUSHD_LIMITS_CLIENT_SENDS_PER_SECOND=5",
		"PUSHD_LIMITS_CLIENT_SEND_BURST=6",
		"PUSHD_LIMITS_SERVER_SENDS_PER_SECOND=700",
		"PUSHD_LIMITS_SERVER_SEND_BURST=800",
		"PUSHD_LIMITS_MAX_TOKEN_TTL=48h",
		"PUSHD_LIMITS_VENDOR_WINDOW=500",
		"PUSHD_LIMITS_VENDOR_BREAKER_FAILURES=7",
		"PUSHD_LIMITS_VENDOR_BREAKER_BACKOFF=3s",
		"PUSHD_CLUSTER_NAME=node-9",
		"PUSHD_CLUSTER_BIND=0.0.0.0:17946",
		"PUSHD_CLUSTER_ADVERTISE=203.0.113.9:17946",
		"PUSHD_CLUSTER_JOIN= 10.0.0.1:7946 ,,10.0.0.2:7946",
		"PUSHD_CLUSTER_REMOTE=0.0.0.0:18090",
		"PUSHD_CLUSTER_ADVERTISE_REMOTE=203.0.113.9:18090",
		"PUSHD_CLUSTER_BOOTSTRAP_EXPECT=3",
		"PUSHD_CLUSTER_GOSSIP_KEY_FILE=/k/gossip.key",
		"PUSHD_CLUSTER_TLS_CERT_FILE=/k/node.pem",
		"PUSHD_CLUSTER_TLS_KEY_FILE=/k/node-key.pem",
		"PUSHD_CLUSTER_TLS_CA_FILE=/k/ca.pem",
		"PUSHD_CLUSTER_CLUSTER_ID=prod",
		"PUSHD_CLUSTER_JOIN_TIMEOUT=30s",
		"PUSHD_CLUSTER_RAFT=0.0.0.0:17950",
		"PUSHD_CLUSTER_ADVERTISE_RAFT=203.0.113.9:17950",
		"PUSHD_CLUSTER_REPLICAS=5",
		"PUSHD_CLUSTER_DEAD_NODE_TIMEOUT=90s",
		"PUSHD_CLUSTER_MAX_MOVES=8",
		"PUSHD_CLUSTER_SNAPSHOT_BYTES_PER_SECOND=-1",
		"PUSHD_CLUSTER_REQUEST_TIMEOUT=12s",
		"PUSHD_SIMULATOR_ENABLED=true",
		"PUSHD_SIMULATOR_ADDR=127.0.0.1:19000",
		"PUSHD_LOG_LEVEL=error", // given twice: the last one wins
	}
	c, err := loadString(t, file, env...)
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Listen = "127.0.0.1:2222"
	want.DataDir = "/data"
	want.HeartbeatTimeout = Duration(time.Minute)
	want.AckTimeout = Duration(2 * time.Second)
	want.OfflineRetention = Duration(48 * time.Hour)
	want.OfflineMaxPerStream = 77
	want.IdempotencyWindow = Duration(time.Hour)
	want.UserIdleTimeout = Duration(10 * time.Second)
	want.MaxBodyBytes = 128 << 10
	want.GCPercent = 150
	want.LogLevel = "error"
	want.LogFormat = "json"
	want.Limits = Limits{ReadTimeout: Duration(7 * time.Second), WriteTimeout: Duration(8 * time.Second),
		IdleTimeout: Duration(9 * time.Second), MaxHTTPConnections: 1001, MaxConnections: 1002,
		MaxConnectionsPerIP: 1003, WSSendQueueBytes: 1_000_000, MinFreeDiskBytes: -1,
		ClientSendsPerSecond: 5, ClientSendBurst: 6, ServerSendsPerSecond: 700, ServerSendBurst: 800,
		MaxTokenTTL: Duration(48 * time.Hour), VendorWindow: 500, VendorBreakerFailures: 7,
		VendorBreakerBackoff: Duration(3 * time.Second)}
	want.Cluster = Cluster{
		Name: "node-9", Bind: "0.0.0.0:17946", Advertise: "203.0.113.9:17946",
		Join:   []string{"10.0.0.1:7946", "10.0.0.2:7946"},
		Remote: "0.0.0.0:18090", AdvertiseRemote: "203.0.113.9:18090",
		BootstrapExpect: 3, GossipKeyFile: "/k/gossip.key",
		TLS:       ClusterTLS{CertFile: "/k/node.pem", KeyFile: "/k/node-key.pem", CAFile: "/k/ca.pem"},
		ClusterID: "prod", JoinTimeout: Duration(30 * time.Second),
		Raft: "0.0.0.0:17950", AdvertiseRaft: "203.0.113.9:17950", Replicas: 5, DeadNodeTimeout: Duration(90 * time.Second), MaxMoves: 8,
		SnapshotBytesPerSecond: -1,
		RequestTimeout:         Duration(12 * time.Second),
	}
	want.Simulator = Simulator{Enabled: true, Addr: "127.0.0.1:19000"}
	want.Apps = c.Apps
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got\n%+v\nwant\n%+v", c, want)
	}
}

func TestEnvEmptyValueIsUnset(t *testing.T) {
	c, err := loadString(t, "listen: 127.0.0.1:1111\n", "PUSHD_LISTEN=", "PUSHD_ACK_TIMEOUT=", "PUSHD_SIMULATOR_ENABLED=")
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:1111" || c.AckTimeout.Std() != 5*time.Second {
		t.Fatalf("empty variables changed the config: %+v", c)
	}
}

func TestEnvProblems(t *testing.T) {
	for _, tc := range []struct {
		env, key, message string
	}{
		{"PUSHD_ACK_TIMEOUT=5", "PUSHD_ACK_TIMEOUT", `want a duration such as "5s", "2m" or "168h", got "5"`},
		{"PUSHD_OFFLINE_RETENTION=a week", "PUSHD_OFFLINE_RETENTION", `got "a week"`},
		{"PUSHD_OFFLINE_MAX_PER_STREAM=lots", "PUSHD_OFFLINE_MAX_PER_STREAM", `want an integer, got "lots"`},
		{"PUSHD_MAX_BODY_BYTES=1.5", "PUSHD_MAX_BODY_BYTES", "want an integer"},
		{"PUSHD_SIMULATOR_ENABLED=yes please", "PUSHD_SIMULATOR_ENABLED", `want true or false, got "yes please"`},
		{"PUSHD_FOO=1", "PUSHD_FOO", "unknown variable; pushd reads PUSHD_LISTEN"},
		{"PUSHD_LISTN=127.0.0.1:1", "PUSHD_LISTN", "unknown variable; did you mean PUSHD_LISTEN?"},
		{"PUSHD_CLUSTER_JION=a:1", "PUSHD_CLUSTER_JION", "did you mean PUSHD_CLUSTER_JOIN?"},
		// Values that parse but Validate rejects name the key and the variable.
		{"PUSHD_ACK_TIMEOUT=-1s", "ack_timeout", "must be more than 0, got -1s (set by PUSHD_ACK_TIMEOUT)"},
		{"PUSHD_LOG_FORMAT=xml", "log_format", "(set by PUSHD_LOG_FORMAT)"},
		{"PUSHD_CLUSTER_JOIN=10.0.0.1", "cluster.join[0]", "want host:port"},
		{"PUSHD_OFFLINE_MAX_PER_STREAM=2000000", "offline_max_per_stream", "must be 1 to 1000000, got 2000000 (set by PUSHD_OFFLINE_MAX_PER_STREAM)"},
	} {
		t.Run(tc.env, func(t *testing.T) {
			for _, path := range []string{"file", ""} { // with and without a config file
				var err error
				if path == "file" {
					_, err = loadString(t, minimalApp, tc.env)
				} else {
					_, err = Load("", []string{tc.env})
				}
				if p := findProblem(t, err, tc.key); !strings.Contains(p.Message, tc.message) {
					t.Fatalf("problem = %v, want %q", p, tc.message)
				}
			}
		})
	}
}

func TestEnvTableCoversEveryVariable(t *testing.T) {
	want := []string{"PUSHD_LISTEN", "PUSHD_DATA_DIR", "PUSHD_HEARTBEAT_TIMEOUT", "PUSHD_ACK_TIMEOUT",
		"PUSHD_OFFLINE_RETENTION", "PUSHD_OFFLINE_MAX_PER_STREAM", "PUSHD_IDEMPOTENCY_WINDOW",
		"PUSHD_USER_IDLE_TIMEOUT", "PUSHD_MAX_BODY_BYTES", "PUSHD_GC_PERCENT", "PUSHD_LOG_LEVEL", "PUSHD_LOG_FORMAT",
		"PUSHD_LIMITS_READ_TIMEOUT", "PUSHD_LIMITS_WRITE_TIMEOUT", "PUSHD_LIMITS_IDLE_TIMEOUT",
		"PUSHD_LIMITS_MAX_HTTP_CONNECTIONS", "PUSHD_LIMITS_MAX_CONNECTIONS", "PUSHD_LIMITS_MAX_CONNECTIONS_PER_IP",
		"PUSHD_LIMITS_WS_SEND_QUEUE_BYTES", "PUSHD_LIMITS_MIN_FREE_DISK_BYTES",
		"PUSHD_LIMITS_CLIENT_SENDS_PER_SECOND", "PUSHD_LIMITS_CLIENT_SEND_BURST",
		"PUSHD_LIMITS_SERVER_SENDS_PER_SECOND", "PUSHD_LIMITS_SERVER_SEND_BURST", "PUSHD_LIMITS_MAX_TOKEN_TTL",
		"PUSHD_TLS_CERT_FILE", "PUSHD_TLS_KEY_FILE",
		"PUSHD_LIMITS_VENDOR_WINDOW", "PUSHD_LIMITS_VENDOR_BREAKER_FAILURES", "PUSHD_LIMITS_VENDOR_BREAKER_BACKOFF",
		"PUSHD_CLUSTER_NAME", "PUSHD_CLUSTER_BIND", "PUSHD_CLUSTER_ADVERTISE", "PUSHD_CLUSTER_JOIN",
		"PUSHD_CLUSTER_REMOTE", "PUSHD_CLUSTER_ADVERTISE_REMOTE", "PUSHD_CLUSTER_BOOTSTRAP_EXPECT",
		"PUSHD_CLUSTER_GOSSIP_KEY_FILE", "PUSHD_CLUSTER_TLS_CERT_FILE", "PUSHD_CLUSTER_TLS_KEY_FILE",
		"PUSHD_CLUSTER_TLS_CA_FILE", "PUSHD_CLUSTER_CLUSTER_ID", "PUSHD_CLUSTER_JOIN_TIMEOUT",
		"PUSHD_CLUSTER_RAFT", "PUSHD_CLUSTER_ADVERTISE_RAFT", "PUSHD_CLUSTER_REPLICAS", "PUSHD_CLUSTER_DEAD_NODE_TIMEOUT", "PUSHD_CLUSTER_MAX_MOVES",
		"PUSHD_CLUSTER_SNAPSHOT_BYTES_PER_SECOND",
		"PUSHD_CLUSTER_REQUEST_TIMEOUT",
		"PUSHD_SIMULATOR_ENABLED", "PUSHD_SIMULATOR_ADDR"}
	var got []string
	for _, ev := range envVars() {
		got = append(got, ev.name)
		// The variable's name is its key's.
		if name := envPrefix + strings.ToUpper(strings.NewReplacer(".", "_").Replace(ev.key)); name != ev.name {
			t.Errorf("%s overrides %s", ev.name, ev.key)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("variables = %v\nwant %v", got, want)
	}
}
