package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/pushd-im/pushd/actors"
	"github.com/pushd-im/pushd/cluster"
	"github.com/pushd-im/pushd/config"
	"github.com/pushd-im/pushd/push/vendorsim"
	"github.com/pushd-im/pushd/storage"
	"github.com/pushd-im/pushd/transport/api"
)

// sweepEvery is how often retention removes old messages and idempotency records.
const sweepEvery = 10 * time.Minute

// Daemon is one running pushd node.
type Daemon struct {
	cfg      *config.Config
	log      *slog.Logger
	clock    actors.Clock
	registry *prometheus.Registry
	metrics  *actors.Metrics

	store   *storage.Store
	sim     *vendorsim.Sim
	node    *actors.Node
	members *cluster.Node
	repl    *replication // nil on a lone node
	api     *api.Server
	cert    *apiCert // nil without tls.cert_file

	demoKey, demoSecret string

	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once

	leaving   sync.Once
	left      chan struct{} // closed once a graceful leave moved every replica away
	leaveDone chan struct{} // closed when the leave goroutine returns
}

// Options are what a Daemon takes besides its config.
type Options struct {
	// Logger receives every component's log; nil is silent.
	Logger *slog.Logger
	// Clock drives the actors' timers, the vendor clients' timestamps and the
	// in-process simulator; nil is the wall clock. Tests move it to the next
	// vendor day.
	Clock actors.Clock
}

// New checks nothing beyond what config.Validate did; Start builds and starts
// every part, in dependency order.
func New(cfg *config.Config, o Options) *Daemon {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = actors.SystemClock{}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Daemon{cfg: cfg, log: o.Logger, clock: o.Clock, registry: reg, metrics: actors.NewMetrics(reg), stop: make(chan struct{}),
		left: make(chan struct{}), leaveDone: make(chan struct{})}
}

// Start opens the store, starts the simulator (when enabled), the actors, the
// cluster membership and the API. On error everything started is stopped.
func (d *Daemon) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = d.Shutdown(sctx)
			cancel()
		}
	}()
	cfg := d.cfg
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("daemon: data dir: %w", err)
	}
	d.store, err = storage.Open(filepath.Join(cfg.DataDir, "store"), storage.Options{Logger: d.log.With("component", "storage"),
		MinFreeBytes: int64(cfg.Limits.MinFreeDiskBytes), SnapshotBytesPerSecond: int64(cfg.Cluster.SnapshotBytesPerSecond)})
	if err != nil {
		return err
	}
	store := d.store
	d.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pushd_storage_low_space",
			Help: "1 while the data_dir's disk has less free space than limits.min_free_disk_bytes and new data is refused."},
			func() float64 {
				if store.LowSpace() {
					return 1
				}
				return 0
			}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "pushd_storage_refused_no_space_total",
			Help: "Writes of new data refused because the disk was short of space."},
			func() float64 { return float64(store.Stats().RefusedNoSpace) }))
	if cfg.Simulator.Enabled {
		if err := d.startSimulator(); err != nil {
			return err
		}
	}
	apps, apiApps, err := d.buildApps()
	if err != nil {
		return err
	}
	sec, err := loadClusterSecurity(cfg.Cluster)
	if err != nil {
		return err
	}
	remoteListen := ""
	if sec != nil {
		remoteListen = cfg.Cluster.Remote
	}
	d.node, err = actors.New(actors.Options{
		Store: d.store, Logger: d.log.With("component", "actors"), Metrics: d.metrics,
		RemoteListen: remoteListen, RemoteAdvertise: cfg.Cluster.AdvertiseRemote,
		RemoteServerTLS: sec.serverTLS(), RemoteClientTLS: sec.clientTLS(),
		AckTimeout: cfg.AckTimeout.Std(), IdleTimeout: cfg.UserIdleTimeout.Std(),
		IdempotencyWin: cfg.IdempotencyWindow.Std(), Retention: cfg.OfflineRetention.Std(),
		MaxPerStream: cfg.OfflineMaxPerStream, Apps: apps, Clock: d.clock,
		VendorWindow: cfg.Limits.VendorWindow, BreakerFailures: cfg.Limits.VendorBreakerFailures, BreakerBackoff: cfg.Limits.VendorBreakerBackoff.Std(),
		RequestTimeout: cfg.Cluster.RequestTimeout.Std(),
		Sharded:        sec != nil, NoTrace: !cfg.TraceOn(),
	})
	if err != nil {
		return err
	}
	remoteAddr := ""
	if sec != nil {
		if remoteAddr, err = d.node.StartRemote(); err != nil {
			return err
		}
	}
	if cfg.TLS.Enabled() {
		d.cert = &apiCert{certFile: cfg.TLS.CertFile, keyFile: cfg.TLS.KeyFile}
		if _, err := d.cert.load(); err != nil {
			return fmt.Errorf("daemon: %w", err)
		}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("daemon: listen %s: %w", cfg.Listen, err)
	}
	if d.cert != nil {
		// The handshake runs on the connection's first read, in the API
		// server's worker, so read_timeout bounds a slow one too.
		ln = tls.NewListener(ln, d.cert.config())
	}
	defer func() {
		if d.api == nil { // else the API server owns ln and Shutdown closes it
			ln.Close()
		}
	}()
	ccfg := cluster.Config{
		Name: cfg.Cluster.Name, Bind: cfg.Cluster.Bind, Advertise: cfg.Cluster.Advertise, Join: cfg.Cluster.Join,
		RemoteAddr: remoteAddr, APIAddr: ln.Addr().String(), Logger: d.log.With("component", "cluster"),
		Lone: sec == nil, BootstrapExpect: cfg.Cluster.BootstrapExpect,
	}
	if sec != nil {
		ccfg.RaftAddr = cfg.Cluster.Raft
		if cfg.Cluster.AdvertiseRaft != "" {
			ccfg.RaftAddr = cfg.Cluster.AdvertiseRaft
		}
		ccfg.GossipKey, ccfg.ClusterID = sec.gossipKey, sec.clusterID
		ccfg.VerifyPeer = func(ctx context.Context, m cluster.Member) error { return sec.tls.VerifyPeer(ctx, m.RemoteAddr) }
	}
	if d.members, err = cluster.New(ccfg); err != nil {
		return err
	}
	jctx, cancel := context.WithTimeout(ctx, cfg.Cluster.JoinTimeout.Std())
	err = d.members.Start(jctx)
	cancel()
	if err != nil {
		return startError(err)
	}
	members := d.members
	d.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pushd_cluster_members", Help: "Live members this node places actors over."},
		func() float64 { return float64(members.Placement().Len()) }))
	var place actors.Placement = placement{d.members}
	if sec != nil {
		if d.repl, err = startReplication(cfg, sec, d.store, d.node, d.members, d.log.With("component", "replication")); err != nil {
			return err
		}
		place = d.repl
		// Until the leadership loop has counted the shards this node leads, it
		// sends at the share of one: a node joining a cluster must not start
		// at the whole of every vendor's limits.
		d.node.SetVendorShare(1.0 / storage.NumShards)
	}
	if err := d.node.Start(place); err != nil {
		return err
	}
	if d.repl != nil {
		if err := d.repl.run(cfg); err != nil {
			return err
		}
		d.registerReplicationMetrics()
	}
	d.api, err = api.New(api.Options{
		Listener: ln, Node: d.node, Apps: apiApps, MaxBodyBytes: cfg.MaxBodyBytes,
		HeartbeatTimeout: cfg.HeartbeatTimeout.Std(), Logger: d.log.With("component", "api"),
		ReadTimeout: cfg.Limits.ReadTimeout.Std(), WriteTimeout: cfg.Limits.WriteTimeout.Std(),
		IdleTimeout: cfg.Limits.IdleTimeout.Std(), MaxHTTPConnections: cfg.Limits.MaxHTTPConnections,
		MaxConnections: cfg.Limits.MaxConnections, MaxConnectionsPerIP: cfg.Limits.MaxConnectionsPerIP,
		SendQueueBytes: cfg.Limits.WSSendQueueBytes,
		ClientSendRate: cfg.Limits.ClientSendsPerSecond, ClientSendBurst: cfg.Limits.ClientSendBurst,
		ServerSendRate: cfg.Limits.ServerSendsPerSecond, ServerSendBurst: cfg.Limits.ServerSendBurst,
		MaxTokenTTL: cfg.Limits.MaxTokenTTL.Std(),
		Gatherer:    d.registry, Registerer: d.registry, Ready: d.ready, Cluster: d.clusterStatus, Leave: d.leave,
		Peers: d.peerAPIs(), OwnerAPI: d.ownerAPI(),
	})
	if err != nil {
		return err
	}
	if err := d.api.Start(); err != nil {
		return err
	}
	d.wg.Add(1)
	go d.sweepLoop()
	d.log.Info("pushd started", "api", d.APIURL(), "node", cfg.Cluster.Name, "remote", remoteAddr, "data_dir", cfg.DataDir)
	return nil
}

// Shutdown stops the API, leaves the cluster, stops the actors (pending pushes
// stay in the outbox), the simulator and the store. It is idempotent.
func (d *Daemon) Shutdown(ctx context.Context) error {
	var errs []error
	d.once.Do(func() {
		close(d.stop)
		d.wg.Wait()
		if d.api != nil {
			errs = append(errs, d.api.Shutdown(ctx))
		}
		if d.repl != nil {
			d.repl.close()
		}
		if d.members != nil {
			errs = append(errs, d.members.Shutdown(ctx))
		}
		if d.node != nil {
			errs = append(errs, d.node.Shutdown(ctx))
		}
		if d.sim != nil {
			errs = append(errs, d.sim.Shutdown(ctx))
		}
		if d.store != nil {
			errs = append(errs, d.store.Close())
		}
	})
	return errors.Join(errs...)
}

// APIAddr is where the HTTP API listens.
func (d *Daemon) APIAddr() string { return d.api.Addr() }

// GossipAddr is where cluster membership listens (peers join it); "" on a lone node.
func (d *Daemon) GossipAddr() string { return d.members.GossipAddr() }

// RemoteAddr is where the node's actors are reached by other nodes; "" on a
// lone node, which opens no port for them.
func (d *Daemon) RemoteAddr() string {
	if d.members.Self().RemoteAddr == "" {
		return ""
	}
	return d.node.Address()
}

// Simulator is the in-process vendor simulator, or nil.
func (d *Daemon) Simulator() *vendorsim.Sim { return d.sim }

// Store is the node's Pebble store.
func (d *Daemon) Store() *storage.Store { return d.store }

// DemoSecrets returns the demo app's API key and client-token secret when the
// daemon added the demo app.
func (d *Daemon) DemoSecrets() (apiKey, clientSecret string) { return d.demoKey, d.demoSecret }

// Left is closed once a leave (POST /v1/cluster/leave) has moved every shard
// replica of this node to others: the node may stop, and its data is no
// longer needed.
func (d *Daemon) Left() <-chan struct{} { return d.left }

// leave starts the graceful leave: the node stops taking new replicas, the
// shards' leaders move its replicas (and leadership) to the other nodes, and
// Left is closed when none is left here.
func (d *Daemon) leave() error {
	if d.repl == nil {
		return errors.New("a lone node has no cluster to leave")
	}
	started := false
	d.leaving.Do(func() {
		started = true
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				select {
				case <-d.stop:
					cancel()
				case <-ctx.Done():
				}
			}()
			defer cancel()
			d.log.Info("leaving the cluster: moving shard replicas away")
			if err := d.repl.shards.Drain(ctx); err != nil {
				d.log.Error("leave did not finish", "err", err)
				return
			}
			d.log.Info("left the cluster: no shard replica is here")
			close(d.left)
		}()
	})
	if !started {
		return errors.New("the node is leaving already")
	}
	return nil
}

// clusterStatus is GET /v1/cluster: a lone node is one node writing every
// shard.
func (d *Daemon) clusterStatus(ctx context.Context, q api.ClusterQuery) (any, error) {
	if d.repl == nil {
		self := d.members.Self()
		return ClusterStatus{Mode: "lone", Node: self.ID, Formed: true, Scope: "cluster", Complete: true,
			Nodes: []ClusterNode{{Name: self.ID, API: d.api.Addr(), Replicas: storage.NumShards, Leads: storage.NumShards}}}, nil
	}
	st := d.repl.status(ctx)
	if !q.NodeOnly {
		return mergeStatus(st, q.Peers, q.Missing), nil
	}
	st.Scope = "node"
	if !q.Digests {
		return st, nil
	}
	var err error
	st.Digests, err = d.repl.digests()
	return st, err
}

// peerAPIs lists the other members' API base URLs, which a message's trace and the cluster's
// status ask: in a cluster each holds the shards it has replicas of. A lone node holds them all
// (nil). The members serve their APIs alike: over https when this node does.
func (d *Daemon) peerAPIs() func() []string {
	if d.repl == nil {
		return nil
	}
	scheme := d.apiScheme()
	return func() []string {
		self := d.members.Self().ID
		var out []string
		for _, m := range d.members.Placement().Members() {
			if m.ID != self && m.APIAddr != "" {
				out = append(out, scheme+m.APIAddr)
			}
		}
		return out
	}
}

// apiScheme is how this node's API is reached, and so every member's: the members serve their
// APIs alike.
func (d *Daemon) apiScheme() string {
	if d.cert != nil {
		return "https://"
	}
	return "http://"
}

// ownerAPI is the API base URL of the member that owns a user, "" when this node does or the
// owner is not known: GET /v1/users/{id}/streams reads the user's data there. nil on a lone
// node, which owns everyone.
func (d *Daemon) ownerAPI() func(app, user string) string {
	if d.repl == nil {
		return nil
	}
	scheme := d.apiScheme()
	return func(app, user string) string {
		id, _ := d.repl.Owner(storage.UserKey(app, user))
		if id == "" || id == d.members.Self().ID {
			return ""
		}
		for _, m := range d.members.Placement().Members() {
			if m.ID == id && m.APIAddr != "" {
				return scheme + m.APIAddr
			}
		}
		return ""
	}
}

func (d *Daemon) ready() error {
	if d.members == nil || !d.members.Ready() {
		return errors.New("cluster not joined yet")
	}
	if d.repl != nil {
		return d.repl.ready()
	}
	return nil
}

func (d *Daemon) sweepLoop() {
	defer d.wg.Done()
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
		}
		now := d.clock.Now()
		res, err := d.store.Sweep(now.Add(-d.cfg.OfflineRetention.Std()).UnixMilli(), now.Add(-d.cfg.IdempotencyWindow.Std()).UnixMilli())
		if err != nil {
			d.log.Error("retention sweep", "err", err)
			continue
		}
		if res.Messages > 0 {
			d.metrics.MessagesDropped.WithLabelValues("retention_age").Add(float64(res.Messages))
		}
		if res.Messages+res.Calls+res.Ringing+res.Cursors+res.Trace > 0 {
			d.log.Info("retention sweep", "messages_dropped", res.Messages, "idempotency_dropped", res.Idempotency, "fanout_marks_dropped", res.FanoutMarks,
				"calls_dropped", res.Calls, "ringing_dropped", res.Ringing, "cursors_dropped", res.Cursors, "trace_records_dropped", res.Trace)
		}
	}
}

// placement adapts cluster membership to the actors' Placement.
type placement struct{ c *cluster.Node }

func (p placement) Owner(key string) (string, string) {
	m := p.c.Owner(key)
	return m.ID, m.RemoteAddr
}

func (p placement) Self() string { return p.c.Self().ID }
