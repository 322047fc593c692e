package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"time"
	"unicode"

	"github.com/hashicorp/memberlist"
)

// Defaults for the zero fields of Config.
const (
	DefaultBind          = "127.0.0.1:7946"
	DefaultProbeInterval = 500 * time.Millisecond
	DefaultSuspicionMult = 3

	// minProbeInterval keeps a typo (1ms) from turning failure detection into a busy loop.
	minProbeInterval = 10 * time.Millisecond
)

// Config configures a Node. Zero fields take the defaults stated on them.
type Config struct {
	// Name is this node's id: unique in the cluster, stable across restarts, printable, no spaces.
	// Required. It becomes Member.ID, which placement hashes.
	Name string
	// Bind is the ip:port memberlist listens on, TCP and UDP. The host must be an IP literal.
	// Port 0 binds a free port chosen by the kernel (memberlist supports it; meant for tests).
	// Default 127.0.0.1:7946.
	Bind string
	// Advertise is the ip:port peers use to reach this node, for NAT or containers. Default: the
	// bound address; when Bind's IP is unspecified (0.0.0.0), memberlist picks a private IP of the
	// host. It cannot be set together with Bind port 0, whose port is only known after binding.
	Advertise string
	// Join lists host:port gossip addresses of existing members. Start retries them with backoff
	// until one answers. Empty: this node starts a new one-node cluster and is ready at once.
	Join []string
	// RemoteAddr is the host:port of this node's protoactor remote endpoint. Required.
	RemoteAddr string
	// APIAddr is the host:port of this node's HTTP API. Required.
	APIAddr string
	// RaftAddr is the host:port of this node's Raft transport, gossiped so that peers' Raft hosts
	// find it (Node.ResolveRaft). Default "": the node runs no Raft.
	RaftAddr string
	// ProbeInterval is memberlist's failure-probe interval. Default 500ms, minimum 10ms.
	ProbeInterval time.Duration
	// SuspicionMult is memberlist's suspicion multiplier: a suspected node is declared dead after
	// about SuspicionMult * log10(n+1) * ProbeInterval. Default 3.
	SuspicionMult int
	// Logger receives the node's logs, memberlist's own at debug level. Default: discard.
	Logger *slog.Logger

	// Lone makes a one-node cluster that opens no port: no memberlist runs and the placement is
	// this node alone. It excludes Join and BootstrapExpect > 1; Bind and RemoteAddr are unused.
	Lone bool
	// GossipKey, when set, encrypts and authenticates all gossip (AES-GCM with a 16, 24 or 32 byte
	// key): a node without the same key can neither join nor be heard.
	GossipKey []byte
	// ClusterID travels in every node's meta. A node whose meta carries another id is refused at
	// join and left out of placement, so two clusters on one network never merge.
	ClusterID string
	// BootstrapExpect: Start waits until this many members (this node included) are placed.
	// Default 1. A node with Join waits for at least one peer besides.
	BootstrapExpect int
	// VerifyPeer, when set, must succeed for another member before it is placed; pushd checks the
	// peer's mutual TLS with it. Start fails when every peer it has seen keeps failing it.
	VerifyPeer func(ctx context.Context, m Member) error
}

// settings is a validated Config with defaults applied and addresses split.
type settings struct {
	Config
	bindIP      string
	bindPort    int
	advertiseIP string // empty: let memberlist derive it from the bound address
	advertise   int
	meta        []byte
}

// validate applies the defaults and checks every field, reporting all problems at once.
func (cfg Config) validate() (settings, error) {
	if cfg.Bind == "" {
		cfg.Bind = DefaultBind
	}
	if cfg.ProbeInterval == 0 {
		cfg.ProbeInterval = DefaultProbeInterval
	}
	if cfg.SuspicionMult == 0 {
		cfg.SuspicionMult = DefaultSuspicionMult
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.BootstrapExpect == 0 {
		cfg.BootstrapExpect = 1
	}
	cfg.Join = append([]string(nil), cfg.Join...)
	s := settings{Config: cfg}

	var problems []error
	problem := func(field, format string, args ...any) {
		problems = append(problems, &ConfigError{Field: field, Problem: fmt.Sprintf(format, args...)})
	}

	switch {
	case cfg.Name == "":
		problem("Name", "required")
	case !printableWord(cfg.Name):
		problem("Name", "%q must be printable, without spaces", cfg.Name)
	}

	bindIP, bindPort, err := splitIPPort(cfg.Bind)
	if err != nil {
		problem("Bind", "%v", err)
	}
	s.bindIP, s.bindPort = bindIP, bindPort

	if cfg.Advertise != "" {
		ip, port, err := splitIPPort(cfg.Advertise)
		switch {
		case err != nil:
			problem("Advertise", "%v", err)
		case port == 0:
			problem("Advertise", "%q: port must not be 0", cfg.Advertise)
		case bindIP != "" && bindPort == 0:
			problem("Advertise", "cannot be set when Bind port is 0: the bound port is only known after binding")
		}
		s.advertiseIP, s.advertise = ip, port
	} else {
		s.advertise = bindPort
	}

	for i, addr := range cfg.Join {
		if err := checkHostPort(addr); err != nil {
			problem(fmt.Sprintf("Join[%d]", i), "%v", err)
		}
	}
	if cfg.Lone && len(cfg.Join) > 0 {
		problem("Join", "a lone node joins no one")
	}
	if cfg.Lone && cfg.BootstrapExpect > 1 {
		problem("BootstrapExpect", "a lone node expects no peers, got %d", cfg.BootstrapExpect)
	}
	if cfg.BootstrapExpect < 1 {
		problem("BootstrapExpect", "%d must be at least 1", cfg.BootstrapExpect)
	}
	switch len(cfg.GossipKey) {
	case 0, 16, 24, 32:
	default:
		problem("GossipKey", "%d bytes, want 16, 24 or 32", len(cfg.GossipKey))
	}
	if cfg.RemoteAddr == "" {
		if !cfg.Lone {
			problem("RemoteAddr", "required")
		}
	} else if err := checkHostPort(cfg.RemoteAddr); err != nil {
		problem("RemoteAddr", "%v", err)
	}
	if cfg.APIAddr == "" {
		problem("APIAddr", "required")
	} else if err := checkHostPort(cfg.APIAddr); err != nil {
		problem("APIAddr", "%v", err)
	}
	if cfg.ProbeInterval < minProbeInterval {
		problem("ProbeInterval", "%v is below the minimum %v", cfg.ProbeInterval, minProbeInterval)
	}
	if cfg.SuspicionMult < 0 {
		problem("SuspicionMult", "%d must not be negative", cfg.SuspicionMult)
	}

	meta, err := encodeMeta(Member{ID: cfg.Name, RemoteAddr: cfg.RemoteAddr, APIAddr: cfg.APIAddr, RaftAddr: cfg.RaftAddr}, cfg.ClusterID)
	switch {
	case err != nil:
		problem("Name", "node meta: %v", err)
	case len(meta) > memberlist.MetaMaxSize:
		problem("Name, RemoteAddr, APIAddr", "node meta is %d bytes, memberlist allows %d",
			len(meta), memberlist.MetaMaxSize)
	}
	s.meta = meta

	return s, errors.Join(problems...)
}

func printableWord(s string) bool {
	for _, r := range s {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

// splitIPPort parses "ip:port" with an IP literal, as memberlist requires for bind and advertise
// addresses. Port 0 is allowed; the caller decides whether it makes sense.
func splitIPPort(addr string) (ip string, port int, err error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("%q is not ip:port", addr)
	}
	if ap.Addr().Zone() != "" {
		return "", 0, fmt.Errorf("%q: zoned IPv6 addresses are not supported", addr)
	}
	return ap.Addr().Unmap().String(), int(ap.Port()), nil
}

// checkHostPort checks "host:port" with a non-empty host and a port in 1..65535.
func checkHostPort(addr string) error {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	if host == "" {
		return fmt.Errorf("%q: host is empty", addr)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 1 || port > 65535 {
		return fmt.Errorf("%q: port must be 1..65535", addr)
	}
	return nil
}
