package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// envPrefix starts every variable pushd reads.
const envPrefix = "PUSHD_"

// envConfigPath is reserved for the config file's path (read by the command
// line, not by Load), so Load does not call it unknown.
const envConfigPath = "PUSHD_CONFIG"

// envVar is one PUSHD_* variable and the key it overrides.
type envVar struct {
	name string
	key  string
	set  func(c *Config, v string) error
}

// envVars lists every variable Load understands.
func envVars() []envVar {
	return []envVar{
		{"PUSHD_LISTEN", "listen", setStr(func(c *Config) *string { return &c.Listen })},
		{"PUSHD_DATA_DIR", "data_dir", setStr(func(c *Config) *string { return &c.DataDir })},
		{"PUSHD_HEARTBEAT_TIMEOUT", "heartbeat_timeout", setDur(func(c *Config) *Duration { return &c.HeartbeatTimeout })},
		{"PUSHD_ACK_TIMEOUT", "ack_timeout", setDur(func(c *Config) *Duration { return &c.AckTimeout })},
		{"PUSHD_OFFLINE_RETENTION", "offline_retention", setDur(func(c *Config) *Duration { return &c.OfflineRetention })},
		{"PUSHD_OFFLINE_MAX_PER_STREAM", "offline_max_per_stream", setInt(func(c *Config) *int { return &c.OfflineMaxPerStream })},
		{"PUSHD_IDEMPOTENCY_WINDOW", "idempotency_window", setDur(func(c *Config) *Duration { return &c.IdempotencyWindow })},
		{"PUSHD_USER_IDLE_TIMEOUT", "user_idle_timeout", setDur(func(c *Config) *Duration { return &c.UserIdleTimeout })},
		{"PUSHD_MAX_BODY_BYTES", "max_body_bytes", setInt(func(c *Config) *int { return &c.MaxBodyBytes })},
		{"PUSHD_GC_PERCENT", "gc_percent", setInt(func(c *Config) *int { return &c.GCPercent })},
		{"PUSHD_LOG_LEVEL", "log_level", setStr(func(c *Config) *string { return &c.LogLevel })},
		{"PUSHD_LOG_FORMAT", "log_format", setStr(func(c *Config) *string { return &c.LogFormat })},
		{"PUSHD_LIMITS_READ_TIMEOUT", "limits.read_timeout", setDur(func(c *Config) *Duration { return &c.Limits.ReadTimeout })},
		{"PUSHD_LIMITS_WRITE_TIMEOUT", "limits.write_timeout", setDur(func(c *Config) *Duration { return &c.Limits.WriteTimeout })},
		{"PUSHD_LIMITS_IDLE_TIMEOUT", "limits.idle_timeout", setDur(func(c *Config) *Duration { return &c.Limits.IdleTimeout })},
		{"PUSHD_LIMITS_MAX_HTTP_CONNECTIONS", "limits.max_http_connections", setInt(func(c *Config) *int { return &c.Limits.MaxHTTPConnections })},
		{"PUSHD_LIMITS_MAX_CONNECTIONS", "limits.max_connections", setInt(func(c *Config) *int { return &c.Limits.MaxConnections })},
		{"PUSHD_LIMITS_MAX_CONNECTIONS_PER_IP", "limits.max_connections_per_ip", setInt(func(c *Config) *int { return &c.Limits.MaxConnectionsPerIP })},
		{"PUSHD_LIMITS_WS_SEND_QUEUE_BYTES", "limits.ws_send_queue_bytes", setInt(func(c *Config) *int { return &c.Limits.WSSendQueueBytes })},
		{"PUSHD_LIMITS_MIN_FREE_DISK_BYTES", "limits.min_free_disk_bytes", setInt(func(c *Config) *int { return &c.Limits.MinFreeDiskBytes })},
		{"PUSHD_LIMITS_CLIENT_SENDS_PER_SECOND", "limits.client_sends_per_second", setInt(func(c *Config) *int { return &c.Limits.ClientSendsPerSecond })},
		{"PUSHD_LIMITS_CLIENT_SEND_BURST", "limits.client_send_burst", setInt(func(c *Config) *int { return &c.Limits.ClientSendBurst })},
		{"PUSHD_LIMITS_SERVER_SENDS_PER_SECOND", "limits.server_sends_per_second", setInt(func(c *Config) *int { return &c.Limits.ServerSendsPerSecond })},
		{"PUSHD_LIMITS_SERVER_SEND_BURST", "limits.server_send_burst", setInt(func(c *Config) *int { return &c.Limits.ServerSendBurst })},
		{"PUSHD_LIMITS_MAX_TOKEN_TTL", "limits.max_token_ttl", setDur(func(c *Config) *Duration { return &c.Limits.MaxTokenTTL })},
		{"PUSHD_TLS_CERT_FILE", "tls.cert_file", setStr(func(c *Config) *string { return &c.TLS.CertFile })},
		{"PUSHD_TLS_KEY_FILE", "tls.key_file", setStr(func(c *Config) *string { return &c.TLS.KeyFile })},
		{"PUSHD_LIMITS_VENDOR_WINDOW", "limits.vendor_window", setInt(func(c *Config) *int { return &c.Limits.VendorWindow })},
		{"PUSHD_LIMITS_VENDOR_BREAKER_FAILURES", "limits.vendor_breaker_failures", setInt(func(c *Config) *int { return &c.Limits.VendorBreakerFailures })},
		{"PUSHD_LIMITS_VENDOR_BREAKER_BACKOFF", "limits.vendor_breaker_backoff", setDur(func(c *Config) *Duration { return &c.Limits.VendorBreakerBackoff })},
		{"PUSHD_CLUSTER_NAME", "cluster.name", setStr(func(c *Config) *string { return &c.Cluster.Name })},
		{"PUSHD_CLUSTER_BIND", "cluster.bind", setStr(func(c *Config) *string { return &c.Cluster.Bind })},
		{"PUSHD_CLUSTER_ADVERTISE", "cluster.advertise", setStr(func(c *Config) *string { return &c.Cluster.Advertise })},
		{"PUSHD_CLUSTER_JOIN", "cluster.join", func(c *Config, v string) error {
			c.Cluster.Join = nil
			for _, j := range strings.Split(v, ",") {
				if j = strings.TrimSpace(j); j != "" {
					c.Cluster.Join = append(c.Cluster.Join, j)
				}
			}
			return nil
		}},
		{"PUSHD_CLUSTER_REMOTE", "cluster.remote", setStr(func(c *Config) *string { return &c.Cluster.Remote })},
		{"PUSHD_CLUSTER_ADVERTISE_REMOTE", "cluster.advertise_remote", setStr(func(c *Config) *string { return &c.Cluster.AdvertiseRemote })},
		{"PUSHD_CLUSTER_BOOTSTRAP_EXPECT", "cluster.bootstrap_expect", setInt(func(c *Config) *int { return &c.Cluster.BootstrapExpect })},
		{"PUSHD_CLUSTER_GOSSIP_KEY_FILE", "cluster.gossip_key_file", setStr(func(c *Config) *string { return &c.Cluster.GossipKeyFile })},
		{"PUSHD_CLUSTER_TLS_CERT_FILE", "cluster.tls.cert_file", setStr(func(c *Config) *string { return &c.Cluster.TLS.CertFile })},
		{"PUSHD_CLUSTER_TLS_KEY_FILE", "cluster.tls.key_file", setStr(func(c *Config) *string { return &c.Cluster.TLS.KeyFile })},
		{"PUSHD_CLUSTER_TLS_CA_FILE", "cluster.tls.ca_file", setStr(func(c *Config) *string { return &c.Cluster.TLS.CAFile })},
		{"PUSHD_CLUSTER_CLUSTER_ID", "cluster.cluster_id", setStr(func(c *Config) *string { return &c.Cluster.ClusterID })},
		{"PUSHD_CLUSTER_JOIN_TIMEOUT", "cluster.join_timeout", setDur(func(c *Config) *Duration { return &c.Cluster.JoinTimeout })},
		{"PUSHD_CLUSTER_RAFT", "cluster.raft", setStr(func(c *Config) *string { return &c.Cluster.Raft })},
		{"PUSHD_CLUSTER_ADVERTISE_RAFT", "cluster.advertise_raft", setStr(func(c *Config) *string { return &c.Cluster.AdvertiseRaft })},
		{"PUSHD_CLUSTER_REPLICAS", "cluster.replicas", setInt(func(c *Config) *int { return &c.Cluster.Replicas })},
		{"PUSHD_CLUSTER_DEAD_NODE_TIMEOUT", "cluster.dead_node_timeout", setDur(func(c *Config) *Duration { return &c.Cluster.DeadNodeTimeout })},
		{"PUSHD_CLUSTER_MAX_MOVES", "cluster.max_moves", setInt(func(c *Config) *int { return &c.Cluster.MaxMoves })},
		{"PUSHD_CLUSTER_SNAPSHOT_BYTES_PER_SECOND", "cluster.snapshot_bytes_per_second", setInt(func(c *Config) *int { return &c.Cluster.SnapshotBytesPerSecond })},
		{"PUSHD_CLUSTER_REQUEST_TIMEOUT", "cluster.request_timeout", setDur(func(c *Config) *Duration { return &c.Cluster.RequestTimeout })},
		{"PUSHD_SIMULATOR_ENABLED", "simulator.enabled", func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("want true or false, got %q", v)
			}
			c.Simulator.Enabled = b
			return nil
		}},
		{"PUSHD_SIMULATOR_ADDR", "simulator.addr", setStr(func(c *Config) *string { return &c.Simulator.Addr })},
	}
}

func setStr(field func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		*field(c) = v
		return nil
	}
}

func setDur(field func(*Config) *Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("want %s, got %q", describeType("config.Duration"), v)
		}
		*field(c) = Duration(d)
		return nil
	}
}

func setInt(field func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("want an integer, got %q", v)
		}
		*field(c) = n
		return nil
	}
}

// applyEnv applies the PUSHD_* variables of env (in os.Environ form; for a name
// given twice the last one wins) to c. An empty value counts as unset. It
// reports bad values and unknown PUSHD_* names, and returns which keys it set,
// keyed by config key, so that Validate's problems can name the variable.
func applyEnv(c *Config, env []string, ps *problems) map[string]string {
	given := map[string]string{}
	for _, kv := range env {
		name, value, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(name, envPrefix) {
			given[name] = value
		}
	}
	set := map[string]string{}
	known := map[string]bool{envConfigPath: true}
	var names []string
	for _, ev := range envVars() {
		known[ev.name] = true
		names = append(names, ev.name)
		v, ok := given[ev.name]
		if !ok || v == "" {
			continue
		}
		if err := ev.set(c, v); err != nil {
			ps.add(ev.name, "%v", err)
			continue
		}
		set[ev.key] = ev.name
	}
	var unknown []string
	for name := range given {
		if !known[name] {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	for _, name := range unknown {
		if s := closest(name, names); s != "" {
			ps.add(name, "unknown variable; did you mean %s?", s)
		} else {
			ps.add(name, "unknown variable; pushd reads %s and %s", strings.Join(names, ", "), envConfigPath)
		}
	}
	return set
}

// closest returns the candidate nearest to s in edit distance, if it is near enough to be a typo.
func closest(s string, candidates []string) string {
	best, bestD := "", 0
	for _, c := range candidates {
		d := editDistance(strings.ToLower(s), strings.ToLower(c))
		if best == "" || d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" || bestD > 3 || bestD*3 > len(s) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
