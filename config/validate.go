package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors"
)

// ErrInvalid is wrapped by every error that reports a bad configuration: a
// file that does not parse, an unknown key, a wrong type, a bad PUSHD_*
// variable, an unreadable secret file or a value Validate rejects.
var ErrInvalid = errors.New("invalid configuration")

// Problem is one thing wrong with a configuration.
type Problem struct {
	// Key is the key path at fault (apps[0].providers.apns.key_file) or the
	// environment variable (PUSHD_LISTEN); empty when the problem is the file as a whole.
	Key string
	// Line is the line of the file the problem is at, 0 when unknown.
	Line int
	// Message says what is wrong.
	Message string
}

// String formats p as "key: message (line N)".
func (p Problem) String() string {
	s := p.Message
	if p.Key != "" {
		s = p.Key + ": " + s
	}
	if p.Line > 0 {
		s += fmt.Sprintf(" (line %d)", p.Line)
	}
	return s
}

// Error lists every problem found in a configuration, one per line. It wraps ErrInvalid.
type Error struct {
	// File is the configuration file, "" when there was none.
	File string
	// Problems are in the order they were found: the file, then the
	// environment, then secret files, then Validate's checks.
	Problems []Problem
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
	} else {
		b.WriteString("config")
	}
	n := len(e.Problems)
	fmt.Fprintf(&b, ": %v (%d problem%s):", ErrInvalid, n, plural(n))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *Error) Unwrap() error { return ErrInvalid }

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// problems collects Problems; its methods take a key and a message.
type problems []Problem

func (ps *problems) add(key, format string, args ...any) {
	*ps = append(*ps, Problem{Key: key, Message: fmt.Sprintf(format, args...)})
}

// The bounds Validate enforces.
const (
	maxOfflinePerStream = 1_000_000
	minMaxBodyBytes     = 64 << 10
	minWSSendQueueBytes = 64 << 10
	minTokenSecretLen   = 16
	maxAppIDLen         = 64
)

// Validate checks c and reports every problem at once in an *Error (which
// wraps ErrInvalid), or returns nil. It does not fill defaults: call
// EnsureDefaults first for a hand-built Config. It does not touch the disk:
// files named by key_file, cert_file, service_account_file and ca_file are
// opened by the components that use them.
func (c *Config) Validate() error {
	ps := c.validate()
	if len(ps) == 0 {
		return nil
	}
	return &Error{Problems: ps}
}

func (c *Config) validate() problems {
	var ps problems
	checkHostPort(&ps, "listen", c.Listen, false)
	if c.DataDir == "" {
		ps.add("data_dir", "required")
	}
	for _, d := range []struct {
		key string
		v   Duration
	}{
		{"heartbeat_timeout", c.HeartbeatTimeout},
		{"ack_timeout", c.AckTimeout},
		{"offline_retention", c.OfflineRetention},
		{"idempotency_window", c.IdempotencyWindow},
		{"user_idle_timeout", c.UserIdleTimeout},
		{"limits.read_timeout", c.Limits.ReadTimeout},
		{"limits.write_timeout", c.Limits.WriteTimeout},
		{"limits.idle_timeout", c.Limits.IdleTimeout},
	} {
		if d.v <= 0 {
			ps.add(d.key, "must be more than 0, got %v", d.v)
		}
	}
	if c.OfflineMaxPerStream < 1 || c.OfflineMaxPerStream > maxOfflinePerStream {
		ps.add("offline_max_per_stream", "must be 1 to %d, got %d", maxOfflinePerStream, c.OfflineMaxPerStream)
	}
	if c.MaxBodyBytes < minMaxBodyBytes {
		ps.add("max_body_bytes", "must be at least %d (64 KiB), got %d", minMaxBodyBytes, c.MaxBodyBytes)
	}
	if c.GCPercent < 25 || c.GCPercent > 10000 {
		ps.add("gc_percent", "must be 25 to 10000, got %d", c.GCPercent)
	}
	for _, n := range []struct {
		key string
		v   int
	}{
		{"limits.max_http_connections", c.Limits.MaxHTTPConnections},
		{"limits.max_connections", c.Limits.MaxConnections},
		{"limits.max_connections_per_ip", c.Limits.MaxConnectionsPerIP},
	} {
		if n.v < 1 {
			ps.add(n.key, "must be at least 1, got %d", n.v)
		}
	}
	for _, f := range []struct {
		key string
		v   int
	}{{"limits.client_sends_per_second", c.Limits.ClientSendsPerSecond}, {"limits.server_sends_per_second", c.Limits.ServerSendsPerSecond}} {
		if f.v < -1 {
			ps.add(f.key, "must be -1 (no limit) or more, got %d", f.v)
		}
	}
	for _, f := range []struct {
		key string
		v   int
	}{{"limits.client_send_burst", c.Limits.ClientSendBurst}, {"limits.server_send_burst", c.Limits.ServerSendBurst}} {
		if f.v < 0 {
			ps.add(f.key, "must be 0 (the rate) or more, got %d", f.v)
		}
	}
	if c.Limits.VendorWindow < 1 {
		ps.add("limits.vendor_window", "must be at least 1, got %d", c.Limits.VendorWindow)
	}
	if c.Limits.VendorBreakerFailures < 1 {
		ps.add("limits.vendor_breaker_failures", "must be at least 1, got %d", c.Limits.VendorBreakerFailures)
	}
	if c.Limits.VendorBreakerBackoff <= 0 {
		ps.add("limits.vendor_breaker_backoff", "must be more than 0, got %v", c.Limits.VendorBreakerBackoff)
	}
	if c.Limits.MaxTokenTTL <= 0 {
		ps.add("limits.max_token_ttl", "must be more than 0, got %v", c.Limits.MaxTokenTTL)
	}
	if c.Limits.MinFreeDiskBytes < -1 {
		ps.add("limits.min_free_disk_bytes", "must be -1 (no reserve) or more, got %d", c.Limits.MinFreeDiskBytes)
	}
	if c.Limits.WSSendQueueBytes < minWSSendQueueBytes {
		ps.add("limits.ws_send_queue_bytes", "must be at least %d (64 KiB, two of the largest frames), got %d", minWSSendQueueBytes, c.Limits.WSSendQueueBytes)
	}
	if c.TLS.Enabled() {
		if c.TLS.CertFile == "" {
			ps.add("tls.cert_file", "required with tls.key_file (both serve the API over TLS, neither over plain HTTP)")
		}
		if c.TLS.KeyFile == "" {
			ps.add("tls.key_file", "required with tls.cert_file (both serve the API over TLS, neither over plain HTTP)")
		}
	}
	checkEnum(&ps, "log_level", c.LogLevel, "debug", "info", "warn", "error")
	checkEnum(&ps, "log_format", c.LogFormat, "text", "json")

	cl := c.Cluster
	if cl.Name == "" {
		ps.add("cluster.name", "required")
	}
	checkHostPort(&ps, "cluster.bind", cl.Bind, false)
	if cl.Advertise != "" {
		checkHostPort(&ps, "cluster.advertise", cl.Advertise, true)
	}
	for i, j := range cl.Join {
		checkHostPort(&ps, fmt.Sprintf("cluster.join[%d]", i), j, true)
	}
	checkHostPort(&ps, "cluster.remote", cl.Remote, false)
	if cl.AdvertiseRemote != "" {
		checkHostPort(&ps, "cluster.advertise_remote", cl.AdvertiseRemote, true)
	}
	if cl.BootstrapExpect < 1 {
		ps.add("cluster.bootstrap_expect", "must be at least 1, got %d", cl.BootstrapExpect)
	}
	if cl.JoinTimeout <= 0 {
		ps.add("cluster.join_timeout", "must be more than 0, got %v", cl.JoinTimeout)
	}
	checkHostPort(&ps, "cluster.raft", cl.Raft, false)
	if cl.AdvertiseRaft != "" {
		checkHostPort(&ps, "cluster.advertise_raft", cl.AdvertiseRaft, true)
	}
	if cl.Replicas < 1 || cl.Replicas > 7 {
		ps.add("cluster.replicas", "must be 1 to 7, got %d", cl.Replicas)
	}
	if cl.MaxMoves < 1 || cl.MaxMoves > 64 {
		ps.add("cluster.max_moves", "must be 1 to 64, got %d", cl.MaxMoves)
	}
	if cl.SnapshotBytesPerSecond < -1 {
		ps.add("cluster.snapshot_bytes_per_second", "must be -1 (no limit) or more than 0, got %d", cl.SnapshotBytesPerSecond)
	}
	if cl.DeadNodeTimeout <= 0 {
		ps.add("cluster.dead_node_timeout", "must be more than 0, got %v", cl.DeadNodeTimeout)
	}
	if cl.RequestTimeout <= 0 {
		ps.add("cluster.request_timeout", "must be more than 0, got %v", cl.RequestTimeout)
	}
	if cl.Peered() {
		for _, f := range []struct{ key, v string }{
			{"cluster.gossip_key_file", cl.GossipKeyFile}, {"cluster.tls.cert_file", cl.TLS.CertFile},
			{"cluster.tls.key_file", cl.TLS.KeyFile}, {"cluster.tls.ca_file", cl.TLS.CAFile},
		} {
			if f.v == "" {
				ps.add(f.key, "required when the node has peers (join, bootstrap_expect > 1, cluster.tls or a gossip key): traffic between nodes is encrypted and authenticated")
			}
		}
	}
	checkHostPort(&ps, "simulator.addr", c.Simulator.Addr, false)
	checkDistinct(&ps, []string{"listen", "cluster.bind", "cluster.remote", "cluster.raft"}, []string{c.Listen, cl.Bind, cl.Remote, cl.Raft})

	ids := map[string]int{}
	keys := map[string]string{}    // API key → the key path that first had it
	secrets := map[string]string{} // client token secret → the key path that first had it
	for i := range c.Apps {
		a := &c.Apps[i]
		p := fmt.Sprintf("apps[%d]", i)
		if !validAppID(a.ID) {
			ps.add(p+".id", "must be 1 to %d bytes of A-Z a-z 0-9 _ - . @ :, got %q", maxAppIDLen, a.ID)
		} else if j, dup := ids[a.ID]; dup {
			ps.add(p+".id", "%q is already the id of apps[%d]", a.ID, j)
		} else {
			ids[a.ID] = i
		}
		a.validate(&ps, p, keys, c.Simulator.Enabled)
		// One app's client tokens must not pass as another's.
		own := []struct{ key, secret string }{{p + ".client_token_secret", a.ClientTokenSecret}}
		for j, ts := range a.ClientTokenSecrets {
			own = append(own, struct{ key, secret string }{fmt.Sprintf("%s.client_token_secrets[%d].secret", p, j), ts.Secret})
		}
		for _, o := range own {
			if o.secret == "" {
				continue
			}
			if first, dup := secrets[o.secret]; dup {
				ps.add(o.key, "same secret as %s; every app (and kid) needs its own", first)
			} else {
				secrets[o.secret] = o.key
			}
		}
	}
	return ps
}

// validKid reports whether k can name a client-token secret: 1 to 64 bytes of A-Z a-z 0-9 _ - .
func validKid(k string) bool {
	if len(k) == 0 || len(k) > 64 {
		return false
	}
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// minAPIKeyLen is the shortest API key accepted: a guessable key is no key.
const minAPIKeyLen = 16

// APIKeyDigestPrefix marks an API key configured by its SHA-256 instead of in the clear.
const APIKeyDigestPrefix = "sha256:"

// APIKeyDigest is the hex SHA-256 of an API key as configured: the digest itself for a
// sha256:<hex> entry, the key's hash otherwise. Two entries with the same digest are one key.
func APIKeyDigest(k string) string {
	if strings.HasPrefix(k, APIKeyDigestPrefix) {
		return strings.ToLower(k[len(APIKeyDigestPrefix):])
	}
	sum := sha256.Sum256([]byte(k))
	return hex.EncodeToString(sum[:])
}

// APIKeySum is APIKeyDigest as bytes, for a key that validated (a malformed digest gives zeros,
// which no key hashes to).
func APIKeySum(k string) [sha256.Size]byte {
	var sum [sha256.Size]byte
	_, _ = hex.Decode(sum[:], []byte(APIKeyDigest(k)))
	return sum
}

// noteKey records an API key's digest, or reports it as a second app's use of one key.
func noteKey(ps *problems, keys map[string]string, digest, kp string) {
	if first, dup := keys[digest]; dup {
		ps.add(kp, "same key as %s; an API key names exactly one app", first)
		return
	}
	keys[digest] = kp
}

func (a *App) validate(ps *problems, p string, keys map[string]string, allowHTTP bool) {
	if len(a.APIKeys) == 0 {
		ps.add(p+".api_keys", "at least one API key is required (in api_keys or api_keys_file)")
	}
	for j, k := range a.APIKeys {
		kp := fmt.Sprintf("%s.api_keys[%d]", p, j)
		switch {
		case k == "":
			ps.add(kp, "must not be empty")
		case strings.IndexFunc(k, isSpaceOrControl) >= 0:
			ps.add(kp, "must not contain spaces or control characters")
		case strings.HasPrefix(k, APIKeyDigestPrefix):
			if d, err := hex.DecodeString(k[len(APIKeyDigestPrefix):]); err != nil || len(d) != sha256.Size {
				ps.add(kp, "a hashed key must be %s and the 64 hex digits of the key's SHA-256", APIKeyDigestPrefix)
				break
			}
			noteKey(ps, keys, APIKeyDigest(k), kp)
		case len(k) < minAPIKeyLen:
			ps.add(kp, "must be at least %d characters (or %s<hex> of one), got %d", minAPIKeyLen, APIKeyDigestPrefix, len(k))
		default:
			noteKey(ps, keys, APIKeyDigest(k), kp)
		}
	}
	switch n := len(a.ClientTokenSecret); {
	case n == 0 && len(a.ClientTokenSecrets) == 0:
		ps.add(p+".client_token_secret", "required (or client_token_secret_file, or client_token_secrets)")
	case n > 0 && n < minTokenSecretLen:
		ps.add(p+".client_token_secret", "must be at least %d bytes, got %d", minTokenSecretLen, n)
	}
	kids := map[string]int{}
	for i, ts := range a.ClientTokenSecrets {
		kp := fmt.Sprintf("%s.client_token_secrets[%d]", p, i)
		if !validKid(ts.Kid) {
			ps.add(kp+".kid", "must be 1 to 64 bytes of A-Z a-z 0-9 _ - ., got %q", ts.Kid)
		} else if j, dup := kids[ts.Kid]; dup {
			ps.add(kp+".kid", "%q is already the kid of client_token_secrets[%d]", ts.Kid, j)
		} else {
			kids[ts.Kid] = i
		}
		if n := len(ts.Secret); n < minTokenSecretLen {
			ps.add(kp+".secret", "must be at least %d bytes (or secret_file), got %d", minTokenSecretLen, n)
		}
	}
	a.Providers.validate(ps, p+".providers", allowHTTP)

	for _, name := range sortedKeys(a.RateLimits) {
		rl := a.RateLimits[name]
		rp := p + ".rate_limits." + name
		if _, ok := vendors.Lookup(push.Provider(name)); !ok {
			ps.add(rp, "unknown provider %q; want one of %s", name, providerList())
		}
		if !(rl.QPS >= 0) || math.IsInf(rl.QPS, 0) {
			ps.add(rp+".qps", "must be 0 (unlimited) or more, got %v", rl.QPS)
		}
		if rl.DailyQuota < 0 {
			ps.add(rp+".daily_quota", "must be 0 (unlimited) or more, got %d", rl.DailyQuota)
		}
	}
	for _, id := range sortedKeys(a.Resources) {
		rp := p + ".resources." + id
		if id == "" {
			ps.add(rp, "a resources_id must not be empty")
		}
		byProvider := a.Resources[id]
		for _, name := range sortedKeys(byProvider) {
			r := byProvider[name]
			pp := rp + "." + name
			if _, ok := vendors.Lookup(push.Provider(name)); !ok {
				ps.add(pp, "unknown provider %q; want one of %s", name, providerList())
			}
			switch r.PushType {
			case "", "notification", "passthrough":
			default:
				ps.add(pp+".push_type", "must be notification or passthrough, got %q", r.PushType)
			}
			checkClassification(ps, pp+".classification", r.Classification)
		}
	}
}

// validate reports each block's problems. Unless allowHTTP (the simulator is
// on, for tests and demos), every endpoint must be https: a vendor request
// carries the app's credentials and its users' device tokens.
func (pr Providers) validate(ps *problems, p string, allowHTTP bool) {
	for _, name := range pr.Configured() {
		bp := p + "." + string(name)
		if !allowHTTP {
			for _, e := range endpoints(pr[name]) {
				if len(e.value) >= len("http://") && strings.EqualFold(e.value[:len("http://")], "http://") {
					ps.add(bp+"."+e.key, "must be an https URL, got %q: vendor requests carry credentials and device tokens (plain http is allowed only with simulator.enabled: true)", e.value)
				}
			}
		}
		pr[name].Validate(func(key, format string, args ...any) {
			if key != "" {
				key = bp + "." + key
			} else {
				key = bp
			}
			ps.add(key, format, args...)
		})
	}
}

// endpoint is one URL key of a vendor block and its value.
type endpoint struct{ key, value string }

// endpoints lists the block's keys that name a vendor URL (endpoint,
// auth_endpoint, endpoint_production, ...), read from its YAML form so that a
// vendor's new endpoint key is checked without a list to keep.
func endpoints(block push.VendorConfig) []endpoint {
	raw, err := yaml.Marshal(block)
	if err != nil {
		return nil
	}
	var m map[string]any
	if yaml.Unmarshal(raw, &m) != nil {
		return nil
	}
	var out []endpoint
	for _, k := range sortedKeys(m) {
		if v, ok := m[k].(string); ok && strings.Contains(k, "endpoint") {
			out = append(out, endpoint{k, v})
		}
	}
	return out
}

func checkClassification(ps *problems, key string, c *int) {
	if c != nil && *c != 0 && *c != 1 {
		ps.add(key, "must be 0 (operations) or 1 (system), got %d", *c)
	}
}

func checkEnum(ps *problems, key, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	ps.add(key, "must be one of %s, got %q", strings.Join(allowed, ", "), v)
}

// checkHostPort accepts host:port with a numeric port. With needHost, the host
// must be given and the port must not be 0 (the address is dialled, not listened on).
func checkHostPort(ps *problems, key, v string, needHost bool) {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		ps.add(key, "want host:port, got %q", v)
		return
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		ps.add(key, "port must be a number from 0 to 65535, got %q", port)
		return
	}
	if needHost && (host == "" || n == 0) {
		ps.add(key, "want a reachable host:port (a host and a port other than 0), got %q", v)
	}
}

// checkDistinct reports addresses of this node that are the same, since only one listener can have them.
func checkDistinct(ps *problems, keys, values []string) {
	for i := range values {
		for j := 0; j < i; j++ {
			if values[i] == values[j] && !strings.HasSuffix(values[i], ":0") {
				ps.add(keys[i], "same address as %s (%s)", keys[j], values[i])
			}
		}
	}
}

// validAppID reports whether id is 1 to 64 bytes of A-Z a-z 0-9 _ - . @ :.
func validAppID(id string) bool {
	if id == "" || len(id) > maxAppIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '_', c == '-', c == '.', c == '@', c == ':':
		default:
			return false
		}
	}
	return true
}

func isSpaceOrControl(r rune) bool {
	return unicode.IsSpace(r) || unicode.IsControl(r)
}

func providerList() string {
	var names []string
	for _, p := range vendors.Providers() {
		names = append(names, string(p))
	}
	return strings.Join(names, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
