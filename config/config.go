package config

import "time"

// The defaults. Each field's doc comment repeats its default; example.yaml
// lists them all, and a test checks that it agrees with Default.
const (
	defaultListen              = "127.0.0.1:8080"
	defaultDataDir             = "./pushd-data"
	defaultHeartbeatTimeout    = 30 * time.Second
	defaultAckTimeout          = 5 * time.Second
	defaultOfflineRetention    = 168 * time.Hour
	defaultOfflineMaxPerStream = 1000
	defaultIdempotencyWindow   = 24 * time.Hour
	defaultUserIdleTimeout     = 2 * time.Minute
	defaultMaxBodyBytes        = 1 << 20
	defaultGCPercent           = 400
	defaultLogLevel            = "info"
	defaultLogFormat           = "text"

	defaultReadTimeout         = 30 * time.Second
	defaultWriteTimeout        = 30 * time.Second
	defaultIdleTimeout         = time.Minute
	defaultMaxHTTPConnections  = 32768
	defaultMaxConnections      = 100_000
	defaultMaxConnectionsPerIP = 1000
	defaultWSSendQueueBytes    = 4 << 20
	defaultMinFreeDiskBytes    = 256 << 20
	defaultClientSendsPerSec   = 20
	defaultClientSendBurst     = 40
	defaultMaxTokenTTL         = 30 * 24 * time.Hour
	defaultVendorWindow        = 10000
	defaultBreakerFailures     = 20
	defaultBreakerBackoff      = time.Second

	defaultClusterName   = "node-1"
	defaultClusterBind   = "127.0.0.1:7946"
	defaultClusterRemote = "127.0.0.1:8090"
	defaultJoinTimeout   = time.Minute
	defaultClusterRaft   = "127.0.0.1:7950"
	defaultReplicas      = 3
	defaultDeadNode      = 5 * time.Minute
	defaultNodeRequest   = 5 * time.Second
	defaultSimulatorAddr = "127.0.0.1:0"
)

// Config is the whole pushd configuration. The zero value is not usable: start
// from Default, or call EnsureDefaults, and check it with Validate (Load does both).
type Config struct {
	// Listen is the HTTP API address, host:port. Default "127.0.0.1:8080".
	Listen string `yaml:"listen"`
	// DataDir is the directory of the Pebble store, relative to the working
	// directory unless absolute. Default "./pushd-data".
	DataDir string `yaml:"data_dir"`
	// HeartbeatTimeout: a connection with no frame for this long is offline. Default 30s.
	HeartbeatTimeout Duration `yaml:"heartbeat_timeout"`
	// AckTimeout: a message delivered over a connection but not acked within it
	// is pushed to that device. Default 5s.
	AckTimeout Duration `yaml:"ack_timeout"`
	// OfflineRetention: stored messages older than this are dropped. Default 168h (7 days).
	OfflineRetention Duration `yaml:"offline_retention"`
	// Trace records what happened to each message's devices, for GET
	// /v1/messages/{id}/trace, in the writes pushd makes anyway; kept as long as
	// the messages. Off only to measure its cost. Default true.
	Trace *bool `yaml:"trace,omitempty"`
	// OfflineMaxPerStream is the most messages a stream keeps, 1 to 1,000,000. Default 1000.
	OfflineMaxPerStream int `yaml:"offline_max_per_stream"`
	// IdempotencyWindow is how long a sender's client_msg_id is remembered. Default 24h.
	IdempotencyWindow Duration `yaml:"idempotency_window"`
	// UserIdleTimeout: a user actor with no connection and no pending work is
	// passivated after this long. Default 2m.
	UserIdleTimeout Duration `yaml:"user_idle_timeout"`
	// MaxBodyBytes is the largest HTTP request body accepted, at least 64 KiB. Default 1 MiB (1048576).
	MaxBodyBytes int `yaml:"max_body_bytes"`
	// GCPercent is the Go garbage collector's target (GOGC) that pushd serve
	// sets, 25 to 10000; the GOGC environment variable, when set, wins.
	// Default 400: pushd's live heap is small (messages live in Pebble,
	// off the Go heap), and at Go's 100 a large fan-out spends much of its
	// CPU collecting. The heap may grow to about 5× the live heap between
	// collections; GOMEMLIMIT caps it.
	GCPercent int `yaml:"gc_percent"`
	// LogLevel is debug, info, warn or error. Default "info".
	LogLevel string `yaml:"log_level"`
	// LogFormat is text or json. Default "text".
	LogFormat string `yaml:"log_format"`
	// TLS serves the API and WebSocket over TLS (https, wss) when both files
	// are set; not to be confused with cluster.tls, the traffic between nodes.
	TLS APITLS `yaml:"tls"`
	// Limits bound what clients may hold of a node; see Limits for each default.
	Limits Limits `yaml:"limits"`
	// Cluster is this node's membership and actor-remoting settings; see Cluster for each default.
	Cluster Cluster `yaml:"cluster"`
	// Simulator is the in-process vendor simulator. It is off by default; Load
	// with no file (the built-in single-node config) turns it on.
	Simulator Simulator `yaml:"simulator"`
	// Apps are the tenants this pushd serves. Default none (with no config file
	// the daemon adds its demo app).
	Apps []App `yaml:"apps,omitempty"`
}

// Limits bound what clients may hold of one node: slow or idle HTTP
// connections, long connections, and the frames waiting for a slow reader
// (README, "Limits").
type Limits struct {
	// ReadTimeout is how long a client may take to send a whole HTTP request,
	// headers and body, from the moment its connection opens (or, on a
	// keep-alive connection, from its first byte); a slower one is closed.
	// A long connection is governed by heartbeat_timeout once upgraded.
	// Default 30s.
	ReadTimeout Duration `yaml:"read_timeout"`
	// WriteTimeout is how long writing one HTTP answer may take. Default 30s.
	WriteTimeout Duration `yaml:"write_timeout"`
	// IdleTimeout: a keep-alive HTTP connection that sends no new request for
	// this long is closed. Default 1m.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// MaxHTTPConnections is how many HTTP connections the node serves at
	// once, idle keep-alive ones included and long connections (after their
	// upgrade) not; past it a new connection is answered 503 and closed.
	// Default 32768.
	MaxHTTPConnections int `yaml:"max_http_connections"`
	// MaxConnections is how many long connections (GET /v1/connect) the node
	// keeps open; past it an upgrade is refused with 429
	// too_many_connections. Default 100000.
	MaxConnections int `yaml:"max_connections"`
	// MaxConnectionsPerIP is how many long connections one client IP (the
	// TCP peer's address) may keep open on the node; past it an upgrade is
	// refused with 429 too_many_connections. Behind a proxy every client has
	// the proxy's address: raise it to max_connections there. Default 1000.
	MaxConnectionsPerIP int `yaml:"max_connections_per_ip"`
	// WSSendQueueBytes bounds the frames a long connection holds for a
	// client that reads slower than they come, in bytes; past it the client
	// is kicked (slow_consumer) and catches up from its cursor when it
	// connects again. At least 65536. Default 4 MiB (4194304).
	WSSendQueueBytes int `yaml:"ws_send_queue_bytes"`
	// MinFreeDiskBytes is the free space kept on the data_dir's disk: below
	// it, requests that add data (sends, binds, group and call changes) are
	// refused with 503 storage_unavailable while reads, connections and
	// pushes already accepted go on, until space returns. -1: no reserve.
	// Default 268435456 (256 MiB).
	MinFreeDiskBytes int `yaml:"min_free_disk_bytes"`
	// ClientSendsPerSecond is how many sends (messages, each of a batch, and
	// call invitations) one user's client tokens may make a second on a node;
	// past it (and past ClientSendBurst at once) the answer is 429
	// rate_limited with Retry-After. -1: no limit. Default 20.
	ClientSendsPerSecond int `yaml:"client_sends_per_second"`
	// ClientSendBurst is how many sends a user's client tokens may make at
	// once; a burst below the rate is the rate. Default 40.
	ClientSendBurst int `yaml:"client_send_burst"`
	// ServerSendsPerSecond is the same for one API key; 0 (the default) is
	// no limit.
	ServerSendsPerSecond int `yaml:"server_sends_per_second"`
	// ServerSendBurst is how many sends one API key may make at once (a
	// batch counts each message). Default 0: the rate.
	ServerSendBurst int `yaml:"server_send_burst"`
	// MaxTokenTTL is the longest lifetime a client token may have (its exp
	// after its iat, or after now without one); a longer one is refused, so a
	// leaked token cannot serve for years. Default 720h (30 days).
	MaxTokenTTL Duration `yaml:"max_token_ttl"`
	// VendorWindow is how many pushes each vendor connection (app and
	// provider) holds in memory; the rest wait in the durable outbox and are
	// read back, oldest first, as it drains: a long vendor outage or a large
	// outbox at start costs disk, not memory. Default 10000.
	VendorWindow int `yaml:"vendor_window"`
	// VendorBreakerFailures is how many vendor requests in a row may fail
	// (transport error, 5xx, 429) before the vendor's circuit opens: no
	// pushes go to it, but one trial after vendor_breaker_backoff. Default 20.
	VendorBreakerFailures int `yaml:"vendor_breaker_failures"`
	// VendorBreakerBackoff is how long an open circuit waits before its
	// trial push; it doubles after each failed trial, to at most 1m. Default 1s.
	VendorBreakerBackoff Duration `yaml:"vendor_breaker_backoff"`
}

// APITLS names the PEM files of the API's certificate. The daemon reads
// them again on SIGHUP: a renewed certificate is served without a restart,
// and one that does not load is logged and the old one kept.
type APITLS struct {
	// CertFile is the certificate chain, leaf first. Default "" (plain HTTP).
	CertFile string `yaml:"cert_file"`
	// KeyFile is the certificate's private key. Default "".
	KeyFile string `yaml:"key_file"`
}

// Enabled reports whether the API is served over TLS.
func (t APITLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// Cluster is a node's cluster membership (memberlist) and actor remoting (protoactor) settings.
type Cluster struct {
	// Name is this node's unique name in the cluster. Default "node-1".
	Name string `yaml:"name"`
	// Bind is the memberlist gossip address, host:port (TCP and UDP). Default "127.0.0.1:7946".
	Bind string `yaml:"bind"`
	// Advertise is the gossip address other nodes use to reach this one,
	// host:port. Default "" (use Bind).
	Advertise string `yaml:"advertise,omitempty"`
	// Join lists host:port gossip addresses of nodes to join at start. Default none (a cluster of one).
	Join []string `yaml:"join,omitempty"`
	// Remote is the protoactor remote listen address, host:port. Default "127.0.0.1:8090".
	Remote string `yaml:"remote"`
	// AdvertiseRemote is the remote address other nodes use to reach this one,
	// host:port. Default "" (use Remote).
	AdvertiseRemote string `yaml:"advertise_remote,omitempty"`
	// BootstrapExpect: a new cluster forms once this many nodes have met; start
	// waits for them. Default 1.
	BootstrapExpect int `yaml:"bootstrap_expect"`
	// GossipKeyFile holds the gossip key as base64 text (16, 24 or 32 bytes;
	// surrounding whitespace ignored): gossip is encrypted and authenticated with
	// it. Required when the node has peers. Default "".
	GossipKeyFile string `yaml:"gossip_key_file,omitempty"`
	// TLS is the mutual TLS of the traffic between nodes. Required when the
	// node has peers.
	TLS ClusterTLS `yaml:"tls"`
	// ClusterID travels in every node's gossip meta; a node with another id is
	// refused, so two clusters on one network never merge. Default "": the
	// SHA-256 fingerprint of tls.ca_file's certificate.
	ClusterID string `yaml:"cluster_id,omitempty"`
	// JoinTimeout is how long start may take to join its peers (and to meet
	// bootstrap_expect nodes) before it fails. Default 1m.
	JoinTimeout Duration `yaml:"join_timeout"`
	// Raft is the listen address of the replication (Raft) transport,
	// host:port. Default "127.0.0.1:7950". A lone node runs no Raft.
	Raft string `yaml:"raft"`
	// AdvertiseRaft is the Raft address other nodes use to reach this one,
	// host:port. Default "" (use Raft).
	AdvertiseRaft string `yaml:"advertise_raft,omitempty"`
	// Replicas is how many copies of each shard the cluster keeps (fewer while
	// fewer nodes are up). Default 3.
	Replicas int `yaml:"replicas"`
	// DeadNodeTimeout is how long a node may be gone before its shard
	// replicas are rebuilt on other nodes. Default 5m.
	DeadNodeTimeout Duration `yaml:"dead_node_timeout"`
	// MaxMoves is how many shard replicas each shard leader moves at once
	// while the cluster rebalances (a join, a leave, a dead node). More is
	// faster and costs more snapshot traffic. Default 2.
	MaxMoves int `yaml:"max_moves"`
	// SnapshotBytesPerSecond paces the shard snapshots a node streams to
	// replicas that catch up (a join, a dead node's replacement), all its
	// shards together, so that rebalancing leaves room for the Raft traffic
	// and requests beside it. -1: no limit. Default 64 MiB.
	SnapshotBytesPerSecond int `yaml:"snapshot_bytes_per_second"`
	// RequestTimeout is how long a node waits for an actor's answer where
	// the request has no deadline of its own: node work on other nodes (a
	// fan-out share, a membership change; placed again after it), call
	// events. Node work whose node loses its users' shards (it left, died,
	// a shard moved) is placed again without waiting. Default 5s.
	RequestTimeout Duration `yaml:"request_timeout"`
}

// ClusterTLS names the PEM files of a node's mutual TLS: its certificate and
// key, and the cluster CA that signed every node's certificate.
type ClusterTLS struct {
	// CertFile is this node's certificate, good for server and client
	// authentication, naming the node's addresses (IP or DNS). Default "".
	CertFile string `yaml:"cert_file"`
	// KeyFile is the certificate's private key. Default "".
	KeyFile string `yaml:"key_file"`
	// CAFile is the cluster CA's certificate. Default "".
	CAFile string `yaml:"ca_file"`
}

// Peered reports whether the node is meant to have peers: it joins some,
// expects some, or has the TLS to talk to them. A node that is not opens no
// port for other nodes.
func (c Cluster) Peered() bool {
	return len(c.Join) > 0 || c.BootstrapExpect > 1 || c.TLS != (ClusterTLS{}) || c.GossipKeyFile != ""
}

// Simulator is the in-process vendor simulator that answers like the vendors.
type Simulator struct {
	// Enabled runs the simulator inside the daemon. Default false, except with no
	// config file, where it is true.
	Enabled bool `yaml:"enabled"`
	// Addr is the simulator's listen address, host:port. Default "127.0.0.1:0" (any free port).
	Addr string `yaml:"addr"`
}

// App is one tenant: its API keys, its client-token secret and its vendor credentials.
type App struct {
	// ID names the app: 1 to 64 bytes of A-Z a-z 0-9 _ - . @ :. Required, unique.
	ID string `yaml:"id"`
	// APIKeys are the keys the app's backend sends as X-API-Key. At least one
	// (here or in APIKeysFile); unique across apps. Default none.
	APIKeys []string `yaml:"api_keys,omitempty"`
	// APIKeysFile is a file with more API keys, one per line (blank lines and
	// lines starting with # are skipped). Load adds them to APIKeys. Default "".
	APIKeysFile string `yaml:"api_keys_file,omitempty"`
	// ClientTokenSecret is the HS256 key of client tokens without a kid, at
	// least 16 bytes. Required (here or in ClientTokenSecretFile) unless
	// ClientTokenSecrets is set.
	ClientTokenSecret string `yaml:"client_token_secret,omitempty"`
	// ClientTokenSecretFile is a file holding ClientTokenSecret. Default "".
	ClientTokenSecretFile string `yaml:"client_token_secret_file,omitempty"`
	// ClientTokenSecrets are more client-token secrets, each named by the kid
	// that a token's header carries: a token with a kid is checked with that
	// secret, one without with ClientTokenSecret. Rotating a secret is adding
	// one here, minting new tokens with its kid, and later dropping the old
	// one: nobody is logged out at once. Default none.
	ClientTokenSecrets []TokenSecret `yaml:"client_token_secrets,omitempty"`
	// ClientPushConfig lets devices (client tokens) give their messages a
	// push_config: a push title and content of the sender's choosing. Off, a
	// client's message with one is refused (403) and only the app's backend
	// sets pushes. Default true.
	ClientPushConfig *bool `yaml:"client_push_config,omitempty"`
	// ClientCalls lets devices start calls (each rings up to 9 users with a
	// VoIP push). Off, only the app's backend invites (403 for a client).
	// Default true.
	ClientCalls *bool `yaml:"client_calls,omitempty"`
	// ClientMessageStrangers lets devices message and call users they share
	// no group with. Off, a device's one-to-one message or call invitation
	// to such a user is refused (403); the backend is never restricted.
	// Default true.
	ClientMessageStrangers *bool `yaml:"client_message_strangers,omitempty"`
	// Providers holds the vendor credentials. Default: none configured.
	Providers Providers `yaml:"providers"`
	// RateLimits caps each provider's sends, keyed by provider name. Default none (unlimited).
	RateLimits map[string]RateLimit `yaml:"rate_limits,omitempty"`
	// Resources are the push profiles a message picks with push_config.resources_id:
	// resources_id → provider name → profile. Default none.
	Resources map[string]map[string]Resource `yaml:"resources,omitempty"`
}

// ClientPushConfigAllowed is ClientPushConfig with its default (true) applied.
func (a *App) ClientPushConfigAllowed() bool { return a.ClientPushConfig == nil || *a.ClientPushConfig }

// ClientCallsAllowed is ClientCalls with its default (true) applied.
func (a *App) ClientCallsAllowed() bool { return a.ClientCalls == nil || *a.ClientCalls }

// ClientMessageStrangersAllowed is ClientMessageStrangers with its default (true) applied.
func (a *App) ClientMessageStrangersAllowed() bool {
	return a.ClientMessageStrangers == nil || *a.ClientMessageStrangers
}

// TokenSecret is a client-token secret named by a kid.
type TokenSecret struct {
	// Kid is the key id in a token's header: 1 to 64 bytes of A-Z a-z 0-9 _ - . Required.
	Kid string `yaml:"kid"`
	// Secret is the HS256 key, at least 16 bytes (or SecretFile).
	Secret string `yaml:"secret,omitempty"`
	// SecretFile holds Secret instead (read and trimmed).
	SecretFile string `yaml:"secret_file,omitempty"`
}

// RateLimit caps one provider's sends for one app. Zero means unlimited.
type RateLimit struct {
	// QPS is the most sends per second. Default 0 (unlimited).
	QPS float64 `yaml:"qps"`
	// DailyQuota is the most sends per vendor day. Default 0 (unlimited).
	DailyQuota int64 `yaml:"daily_quota"`
}

// Resource is a push profile for one provider, picked by a message's resources_id.
type Resource struct {
	// Sound is the notification sound. Default "" (the vendor's default).
	Sound string `yaml:"sound,omitempty"`
	// ChannelID is the Android channel (Xiaomi, OPPO, Huawei, FCM). Default "".
	ChannelID string `yaml:"channel_id,omitempty"`
	// Category is the vendor category (APNs category, Huawei/OPPO/vivo IM, ...). Default "".
	Category string `yaml:"category,omitempty"`
	// PushType is notification or passthrough (data message). Default "" (notification).
	PushType string `yaml:"push_type,omitempty"`
	// Importance is the vendor importance (Huawei NORMAL or LOW). Default "".
	Importance string `yaml:"importance,omitempty"`
	// Classification is vivo's 0 or 1. Default nil (the provider's setting).
	Classification *int `yaml:"classification,omitempty"`
}

// Default returns a Config with every default and no apps. The simulator is
// off; Load with no file turns it on.
func Default() *Config {
	c := &Config{}
	c.EnsureDefaults()
	return c
}

// EnsureDefaults fills every unset (zero) field with its default, including the
// endpoints of each configured provider, and trims trailing slashes from
// endpoints. Values that are set are kept, even when invalid: Validate reports them.
func (c *Config) EnsureDefaults() {
	setString(&c.Listen, defaultListen)
	setString(&c.DataDir, defaultDataDir)
	setDuration(&c.HeartbeatTimeout, defaultHeartbeatTimeout)
	setDuration(&c.AckTimeout, defaultAckTimeout)
	setDuration(&c.OfflineRetention, defaultOfflineRetention)
	if c.OfflineMaxPerStream == 0 {
		c.OfflineMaxPerStream = defaultOfflineMaxPerStream
	}
	setDuration(&c.IdempotencyWindow, defaultIdempotencyWindow)
	setDuration(&c.UserIdleTimeout, defaultUserIdleTimeout)
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = defaultMaxBodyBytes
	}
	if c.GCPercent == 0 {
		c.GCPercent = defaultGCPercent
	}
	setString(&c.LogLevel, defaultLogLevel)
	setString(&c.LogFormat, defaultLogFormat)
	setDuration(&c.Limits.ReadTimeout, defaultReadTimeout)
	setDuration(&c.Limits.WriteTimeout, defaultWriteTimeout)
	setDuration(&c.Limits.IdleTimeout, defaultIdleTimeout)
	setIntDefault(&c.Limits.MaxHTTPConnections, defaultMaxHTTPConnections)
	setIntDefault(&c.Limits.MaxConnections, defaultMaxConnections)
	setIntDefault(&c.Limits.MaxConnectionsPerIP, defaultMaxConnectionsPerIP)
	setIntDefault(&c.Limits.WSSendQueueBytes, defaultWSSendQueueBytes)
	setIntDefault(&c.Limits.MinFreeDiskBytes, defaultMinFreeDiskBytes)
	setIntDefault(&c.Limits.ClientSendsPerSecond, defaultClientSendsPerSec)
	setIntDefault(&c.Limits.ClientSendBurst, defaultClientSendBurst)
	setDuration(&c.Limits.MaxTokenTTL, defaultMaxTokenTTL)
	setIntDefault(&c.Limits.VendorWindow, defaultVendorWindow)
	setIntDefault(&c.Limits.VendorBreakerFailures, defaultBreakerFailures)
	setDuration(&c.Limits.VendorBreakerBackoff, defaultBreakerBackoff)
	setString(&c.Cluster.Name, defaultClusterName)
	setString(&c.Cluster.Bind, defaultClusterBind)
	setString(&c.Cluster.Remote, defaultClusterRemote)
	if c.Cluster.BootstrapExpect == 0 {
		c.Cluster.BootstrapExpect = 1
	}
	setDuration(&c.Cluster.JoinTimeout, defaultJoinTimeout)
	setString(&c.Cluster.Raft, defaultClusterRaft)
	setIntDefault(&c.Cluster.Replicas, defaultReplicas)
	setDuration(&c.Cluster.DeadNodeTimeout, defaultDeadNode)
	setIntDefault(&c.Cluster.MaxMoves, 2)
	setIntDefault(&c.Cluster.SnapshotBytesPerSecond, 64<<20)
	setDuration(&c.Cluster.RequestTimeout, defaultNodeRequest)
	setString(&c.Simulator.Addr, defaultSimulatorAddr)
	for i := range c.Apps {
		for _, block := range c.Apps[i].Providers {
			block.SetDefaults()
		}
	}
}

func setString(s *string, def string) {
	if *s == "" {
		*s = def
	}
}

func setIntDefault(n *int, def int) {
	if *n == 0 {
		*n = def
	}
}

func setDuration(d *Duration, def time.Duration) {
	if *d == 0 {
		*d = Duration(def)
	}
}

// App returns the app with the given id, or nil.
func (c *Config) App(id string) *App {
	for i := range c.Apps {
		if c.Apps[i].ID == id {
			return &c.Apps[i]
		}
	}
	return nil
}

// TraceOn reports whether messages' traces are recorded (trace, default true).
func (c *Config) TraceOn() bool { return c.Trace == nil || *c.Trace }
