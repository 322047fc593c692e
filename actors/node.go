package actors

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"golang.org/x/time/rate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/storage"
	"github.com/pushd-im/pushd/wire"
)

// Errors a Request can return besides the reply's own wire.Error.
var (
	// ErrUnavailable: the owner of the key did not answer in time (node down, overloaded).
	ErrUnavailable = errors.New("actors: owner unavailable")
	// ErrStopped: the node is shutting down.
	ErrStopped = errors.New("actors: node stopped")
	// ErrNotOwner: node work named users whose shards this node does not
	// write (now); the sender places them again.
	ErrNotOwner = errors.New("actors: not the owner")
)

// Placement names the owner node of a key. cluster.Node provides it.
type Placement interface {
	// Owner returns the owner node's id and its protoactor remote address.
	Owner(key string) (node, remoteAddr string)
	// Self is this node's id.
	Self() string
}

// RateLimit is one (app, provider)'s sending budget; zero means unlimited.
type RateLimit struct {
	QPS        float64
	DailyQuota int64
}

// App is one tenant's vendor connections.
type App struct {
	ID         string
	Senders    map[push.Provider]push.Sender
	RateLimits map[push.Provider]RateLimit
	// BundleID is the APNs topic for bindings that did not give one.
	BundleID string
	// Defaults are each provider's configured channel and classification,
	// applied where a push's resources profile leaves them empty.
	Defaults map[push.Provider]push.Profile
	// Resources are the resources_id profiles: id → provider → profile.
	Resources map[string]map[push.Provider]push.Profile
	// Vendors describe the providers of Senders: quota day, IM class, title
	// rule, batch size. A provider missing here is a lone-token vendor with a
	// UTC day.
	Vendors map[push.Provider]push.Vendor
}

// Options configure a Node. Zero durations take the defaults named.
type Options struct {
	Store   *storage.Store
	Logger  *slog.Logger
	Metrics *Metrics
	// RemoteListen is the protoactor remote's host:port ("" = this process only).
	RemoteListen    string
	RemoteAdvertise string
	// RemoteServerTLS and RemoteClientTLS secure the remote: peers must present a
	// client certificate the server config accepts, and this node dials them with
	// the client config. Both nil: plain gRPC (tests of one process only).
	RemoteServerTLS, RemoteClientTLS *tls.Config
	AckTimeout                       time.Duration // default 5s
	IdleTimeout                      time.Duration // default 2m: an idle user actor is passivated
	IdempotencyWin                   time.Duration // default 24h
	Retention                        time.Duration // default 168h
	MaxPerStream                     int           // default 1000
	PushTTL                          time.Duration // default 24h: a push not delivered by then is dropped
	RequestTimeout                   time.Duration // default 5s, when the caller's context has no deadline
	Apps                             map[string]*App
	Clock                            Clock // default SystemClock
	// VendorWindow bounds the pushes each vendor actor (app and provider)
	// holds in memory; the rest wait in the outbox. Default 10000.
	VendorWindow int
	// BreakerFailures is how many vendor calls in a row may fail (transport
	// error, 5xx, 429) before the vendor's circuit opens. Default 20.
	BreakerFailures int
	// BreakerBackoff is how long an opened circuit waits before its first
	// trial push; it doubles after each failed trial, to at most a minute.
	// Default 1s.
	BreakerBackoff time.Duration
	// Sharded: the node serves the shards given to it with TakeShard (a
	// cluster node, on the shards it leads), none at first. Else it serves
	// every shard from Start (a lone node).
	Sharded bool
	// NoTrace: record no message trace (config trace: false), for a baseline to measure
	// tracing's cost against.
	NoTrace bool
}

func (o *Options) ensureDefaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.AckTimeout, 5*time.Second)
	def(&o.IdleTimeout, 2*time.Minute)
	def(&o.IdempotencyWin, 24*time.Hour)
	def(&o.Retention, 168*time.Hour)
	def(&o.PushTTL, 24*time.Hour)
	def(&o.RequestTimeout, 5*time.Second)
	def(&o.BreakerBackoff, time.Second)
	if o.VendorWindow <= 0 {
		o.VendorWindow = 10000
	}
	if o.BreakerFailures <= 0 {
		o.BreakerFailures = 20
	}
	if o.MaxPerStream <= 0 {
		o.MaxPerStream = 1000
	}
	if o.Clock == nil {
		o.Clock = SystemClock{}
	}
}

// Node is one pushd node's actor system.
type Node struct {
	o       Options
	log     *slog.Logger
	system  *actor.ActorSystem
	remote  *remote.Remote
	place   Placement
	router  *actor.PID
	vendors map[vendorKey]*actor.PID
	// vendorLimits are the vendor actors' QPS limiters, set once at Start:
	// SetVendorShare scales them.
	vendorLimits []vendorLimit
	// share is this node's share of every vendor's QPS and daily quota, as
	// math.Float64bits (see SetVendorShare).
	share atomic.Uint64
	// fence is, for each shard, an outbox id above every job its last
	// writer left: a vendor actor's pager reads the jobs of this node's
	// user actors (ids above it) differently from those it took over.
	fence [storage.NumShards + 1]atomic.Uint64
	// pool runs every actor's mailbox (see workerPool).
	pool *workerPool
	// unbinds spares vendor actors a binding read for young jobs.
	unbinds *unbindLog
	// shards are the shards this node serves; sessions the long connections
	// it holds, with their users' owners.
	shards   shardSet
	sessions sessionOwners
	// moves wakes node work waiting on other nodes when keys move.
	moves ownerMoves

	mu      sync.Mutex
	timers  map[uint64]func() bool // node timers not yet fired, by id
	timerID uint64
	// work runs node-level goroutines (fan-outs, bulk member work); workCtx
	// ends at Shutdown.
	work       sync.WaitGroup
	workCtx    context.Context
	workCancel context.CancelFunc
	stopped    bool
	stopCh     chan struct{}
	once       sync.Once
}

type vendorKey struct {
	app      string
	provider push.Provider
}

// New builds a node; StartRemote (for a cluster) and Start bring it up.
func New(o Options) (*Node, error) {
	if o.Store == nil {
		return nil, errors.New("actors: Options.Store is required")
	}
	o.ensureDefaults()
	quiet := slog.New(warnOnly{o.Logger.Handler()}).With("component", "protoactor")
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return quiet }))
	workCtx, workCancel := context.WithCancel(context.Background())
	return &Node{
		o: o, log: o.Logger, system: sys, workCtx: workCtx, workCancel: workCancel,
		vendors: map[vendorKey]*actor.PID{},
		pool:    newWorkerPool(300),
		unbinds: newUnbindLog(o.Clock.Now()),
		timers:  map[uint64]func() bool{},
		stopCh:  make(chan struct{}),
	}, nil
}

// StartRemote starts the protoactor remote on Options.RemoteListen and returns
// the address peers reach this node at.
func (n *Node) StartRemote() (addr string, err error) {
	if n.o.RemoteListen == "" {
		return "", errors.New("actors: Options.RemoteListen is empty")
	}
	host, portStr, err := net.SplitHostPort(n.o.RemoteListen)
	if err != nil {
		return "", fmt.Errorf("actors: remote listen %q: %w", n.o.RemoteListen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return "", fmt.Errorf("actors: remote listen port %q: %w", portStr, err)
	}
	var opts []remote.ConfigOption
	if n.o.RemoteAdvertise != "" {
		opts = append(opts, remote.WithAdvertisedHost(n.o.RemoteAdvertise))
	}
	// Nodes use only the Receive stream; protoactor's unary methods panic
	// ("implement me") and would take the process down.
	server := []grpc.ServerOption{grpc.UnaryInterceptor(refuseUnary)}
	if n.o.RemoteServerTLS != nil && n.o.RemoteClientTLS != nil {
		server = append(server, grpc.Creds(credentials.NewTLS(n.o.RemoteServerTLS)))
		// This replaces protoactor's default dial option, grpc.WithInsecure.
		opts = append(opts, remote.WithDialOptions(grpc.WithTransportCredentials(credentials.NewTLS(n.o.RemoteClientTLS))))
	}
	opts = append(opts, remote.WithServerOptions(server...))
	n.remote = remote.NewRemote(n.system, remote.Configure(host, port, opts...))
	defer func() {
		// remote.Start panics when it cannot listen.
		if r := recover(); r != nil {
			n.remote = nil
			err = fmt.Errorf("actors: start remote on %s: %v", n.o.RemoteListen, r)
		}
	}()
	n.remote.Start()
	return n.system.ProcessRegistry.Address, nil
}

// refuseUnary answers every unary call on the remote's gRPC server.
func refuseUnary(_ context.Context, _ any, info *grpc.UnaryServerInfo, _ grpc.UnaryHandler) (any, error) {
	return nil, status.Errorf(codes.Unimplemented, "pushd nodes serve only the Receive stream, not %s", info.FullMethod)
}

// Start spawns the router and the vendor actors. A lone node then serves
// every shard and resumes their outbox, fan-outs and calls; a sharded one
// waits for TakeShard.
func (n *Node) Start(p Placement) error {
	n.place = p
	n.shards.all = !n.o.Sharded // before any actor runs: they read it
	pid, err := n.system.Root.SpawnNamed(n.props(func() actor.Actor { return newRouter(n) }), "router")
	if err != nil {
		return fmt.Errorf("actors: spawn router: %w", err)
	}
	n.router = pid
	for _, app := range n.o.Apps {
		for prov, s := range app.Senders {
			var limiter *rate.Limiter
			if rl := app.RateLimits[prov]; rl.QPS > 0 {
				limiter = rate.NewLimiter(rate.Limit(rl.QPS), qpsBurst(rl.QPS))
				n.vendorLimits = append(n.vendorLimits, vendorLimit{limiter, rl.QPS})
			}
			props := n.props(func() actor.Actor { return newVendor(n, app, prov, s, limiter) })
			vpid, err := n.system.Root.SpawnNamed(props, "vendor-"+app.ID+"-"+string(prov))
			if err != nil {
				return fmt.Errorf("actors: spawn vendor %s/%s: %w", app.ID, prov, err)
			}
			n.vendors[vendorKey{app.ID, prov}] = vpid
		}
	}
	if n.o.Sharded {
		return nil
	}
	for shard := uint64(1); shard <= storage.NumShards; shard++ {
		if err := n.resumeShard(shard); err != nil {
			return err
		}
	}
	// Once, when every shard is recovered: the actors read the whole outbox
	// in one walk (pushes held for a quota come back together, as one batch).
	n.tellOutbox(0)
	return nil
}

// Shutdown stops the actors: in-flight vendor calls end and their pushes stay in
// the outbox for the next start. It is idempotent.
func (n *Node) Shutdown(ctx context.Context) error {
	n.once.Do(func() {
		n.mu.Lock()
		n.stopped = true
		for _, stop := range n.timers {
			stop()
		}
		n.timers = nil
		n.mu.Unlock()
		close(n.stopCh)
		n.workCancel()
		var futs []*actor.Future
		for _, pid := range n.vendors {
			futs = append(futs, n.system.Root.StopFuture(pid))
		}
		if n.router != nil {
			futs = append(futs, n.system.Root.StopFuture(n.router))
		}
		done := make(chan struct{})
		go func() {
			for _, f := range futs {
				_ = f.Wait()
			}
			n.work.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-ctx.Done():
		}
		if n.remote != nil {
			n.remote.Shutdown(true)
		}
		n.system.Shutdown()
		closed := make(chan struct{})
		go func() { n.pool.Close(); close(closed) }()
		select {
		case <-closed:
		case <-ctx.Done():
		}
	})
	return nil
}

// props are the Props of every pushd actor: its producer, run on the node's
// worker pool.
func (n *Node) props(producer actor.Producer) *actor.Props {
	return actor.PropsFromProducer(producer, actor.WithDispatcher(n.pool))
}

// Address is this node's remote address ("nonhost" without a remote).
func (n *Node) Address() string { return n.system.ProcessRegistry.Address }

func (n *Node) routerFor(key string) *actor.PID {
	node, addr := n.place.Owner(key)
	if node == n.place.Self() || addr == "" {
		return n.router
	}
	return actor.NewPID(addr, "router")
}

// Request sends msg to the actor that owns key and waits for its reply,
// re-routing with backoff while ownership moves, until ctx ends.
func (n *Node) Request(ctx context.Context, key string, msg proto.Message) (proto.Message, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.o.RequestTimeout)
		defer cancel()
	}
	backoff := 5 * time.Millisecond
	for {
		select {
		case <-n.stopCh:
			return nil, ErrStopped
		default:
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %s", ErrUnavailable, key)
		}
		moved := n.moves.next() // before the placement is read
		res, err := n.request(ctx, n.routerFor(key), key, msg, moved)
		if err == nil {
			reply, err := unpack(res)
			if err != nil {
				return nil, err
			}
			if _, moved := reply.(*wire.NotOwner); !moved {
				return reply, nil
			}
		} else if errors.Is(err, ErrStopped) {
			return nil, err
		} else if !errors.Is(err, actor.ErrDeadLetter) && !errors.Is(err, errMoved) {
			return nil, fmt.Errorf("%w: %s: %v", ErrUnavailable, key, err)
		}
		// Not the owner (placement is moving) or no router yet: back off and re-route.
		jitter := time.Duration(rand.Int64N(int64(backoff)))
		select {
		case <-time.After(backoff + jitter):
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %s: %v", ErrUnavailable, key, ctx.Err())
		case <-n.stopCh:
			return nil, ErrStopped
		}
		backoff = min(backoff*2, 500*time.Millisecond)
	}
}

// request sends msg to pid and waits for the answer, through a replySink (no
// future, and no timer beyond ctx's). A request to another node's router gives
// up with errMoved as soon as the key's owner is another node (moved closes
// when the placement changes): a dead owner never answers, and its protoactor
// endpoint takes seconds to be declared gone, while its shards have new
// writers within about a second. The old owner may still have done the work
// (at least once: sends carry client_msg_id for that).
func (n *Node) request(ctx context.Context, pid *actor.PID, key string, msg proto.Message, moved <-chan struct{}) (any, error) {
	if pid == nil {
		return nil, actor.ErrDeadLetter // no router yet: the caller backs off
	}
	if pid != n.router {
		packed, err := n.pack(pid, key, msg)
		if err != nil {
			return nil, err
		}
		return n.await(ctx, pid, packed, moved, func() error {
			if !n.routerFor(key).Equal(pid) {
				return errMoved
			}
			return nil
		})
	}
	sink := n.newReplySink(1)
	defer n.removeReplySink(sink)
	sink.expect(1)
	n.system.Root.Send(pid, &routedBatch{items: []heldMessage{{msg: &local{key: key, msg: msg}, sender: sink.sender(0)}}})
	select {
	case <-sink.done:
		return sink.result(0), nil
	case <-ctx.Done():
		return nil, actor.ErrTimeout
	case <-n.stopCh:
		return nil, ErrStopped
	}
}

// errMoved: the key's owner changed while a request waited for the old one.
var errMoved = errors.New("actors: owner moved")

// await sends env to pid (a router, usually another node's), naming a
// one-request reply sink as its sender, and waits for the answer
// (actor.ErrDeadLetter when pid's node dropped it). Each time the placement moves (moved closes), gone says
// whether to stop waiting, with its error; ctx ending gives context.Cause.
// A sink, not a future: a request given up leaves no timer or goroutine
// behind, and its late answer goes nowhere.
func (n *Node) await(ctx context.Context, pid *actor.PID, env any, moved <-chan struct{}, gone func() error) (any, error) {
	sink := n.newReplySink(1)
	defer n.removeReplySink(sink)
	sink.expect(1)
	n.system.Root.RequestWithCustomSender(pid, env, sink.sender(0))
	for {
		select {
		case <-sink.done:
			_, res, _ := actor.UnwrapEnvelope(sink.result(0))
			if _, dead := res.(*actor.DeadLetterResponse); dead {
				return nil, actor.ErrDeadLetter
			}
			return res, nil
		case <-moved:
			moved = n.moves.next() // before gone reads the placement
			if err := gone(); err != nil {
				return nil, err
			}
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-n.stopCh:
			return nil, ErrStopped
		}
	}
}

// Tell sends msg to the actor that owns key without waiting for an answer.
func (n *Node) Tell(key string, msg proto.Message) {
	n.send(n.system.Root, n.routerFor(key), key, msg)
}

// after runs f after d on a timer the node stops at Shutdown; stop cancels it.
func (n *Node) after(d time.Duration, f func()) (stop func()) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopped {
		return func() {}
	}
	n.timerID++
	id := n.timerID
	n.timers[id] = n.o.Clock.AfterFunc(d, func() {
		n.mu.Lock()
		if n.timers != nil {
			delete(n.timers, id)
		}
		stopped := n.stopped
		n.mu.Unlock()
		if !stopped {
			f()
		}
	})
	return func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		if stop := n.timers[id]; stop != nil {
			stop()
			delete(n.timers, id)
		}
	}
}

// goWork runs f in a goroutine the node owns; f's context ends at Shutdown.
func (n *Node) goWork(f func(context.Context)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopped {
		return
	}
	n.work.Add(1)
	go func() {
		defer n.work.Done()
		f(n.workCtx)
	}()
}

// wireMessage is any message of package wire.
type wireMessage = proto.Message

// now is the node's clock.
func (n *Node) now() time.Time { return n.o.Clock.Now() }

// vendor returns the vendor actor for the app and provider, if configured.
func (n *Node) vendor(app string, p push.Provider) *actor.PID {
	return n.vendors[vendorKey{app, p}]
}

// warnOnly passes on warnings and errors only: protoactor logs every start and
// stop of its internals at info.
type warnOnly struct{ slog.Handler }

func (w warnOnly) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && w.Handler.Enabled(ctx, l)
}

func (w warnOnly) WithAttrs(a []slog.Attr) slog.Handler { return warnOnly{w.Handler.WithAttrs(a)} }
func (w warnOnly) WithGroup(g string) slog.Handler      { return warnOnly{w.Handler.WithGroup(g)} }
