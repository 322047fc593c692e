// Package api serves pushd's HTTP API and the WebSocket long connection with
// fasthttp, as the README describes them. It authenticates every request, decodes
// and checks every body strictly (errors name the field), and hands the work
// to the actors.
//
// A Server is started once and shut down once; Shutdown closes the listener
// and every long connection and waits for their goroutines.
package api

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/pushd-im/pushd/wire"
)

// Options configure a Server.
type Options struct {
	Listen string // host:port; port 0 picks one
	// Listener, when set, is used instead of listening on Listen.
	Listener         net.Listener
	Node             Node
	Apps             []*App
	MaxBodyBytes     int           // default 1 MiB
	HeartbeatTimeout time.Duration // default 30s
	RequestTimeout   time.Duration // default 10s
	// ReadTimeout bounds reading one whole request from the moment its
	// connection opens (or its first byte, on a keep-alive connection);
	// WriteTimeout bounds writing one answer; IdleTimeout closes a
	// keep-alive connection with no request. Defaults 30s, 30s, 1m. A long
	// connection is governed by HeartbeatTimeout once upgraded.
	ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// MaxHTTPConnections is how many connections are served at once (long
	// connections, once upgraded, are not counted); past it a new one gets
	// 503 and is closed. Default 32768.
	MaxHTTPConnections int
	// MaxConnections and MaxConnectionsPerIP cap the long connections open
	// on this node, in all and from one client address; past them an
	// upgrade is refused with 429 too_many_connections. Defaults 100,000
	// and 1,000.
	MaxConnections, MaxConnectionsPerIP int
	// SendQueueBytes bounds the frames a long connection holds for a client
	// that reads slower than they come; past it the client is kicked
	// (slow_consumer). A frame is always taken when nothing waits, whatever
	// its size. Default 4 MiB.
	SendQueueBytes int
	// ClientSendRate and ClientSendBurst bound the sends (messages, a batch's
	// each, call invitations) of one user's client tokens on this node, a
	// second and at once; ServerSendRate and ServerSendBurst those of one API
	// key. A rate of 0 is no limit; a burst below the rate is the rate.
	ClientSendRate, ClientSendBurst int
	ServerSendRate, ServerSendBurst int
	// MaxTokenTTL is the longest lifetime a client token may have (exp after
	// iat, or after now without iat). Default 30 days.
	MaxTokenTTL time.Duration
	Logger      *slog.Logger
	Gatherer    prometheus.Gatherer // /metrics; nil serves none
	// Registerer takes the server's own series
	// (pushd_panics_recovered_total); nil registers none.
	Registerer prometheus.Registerer
	// Ready reports whether the node can serve (storage open, cluster joined).
	Ready func() error
	// Cluster reports the cluster for GET /v1/cluster (a JSON-encodable
	// value); nil serves none.
	Cluster func(ctx context.Context, q ClusterQuery) (any, error)
	// Leave starts a graceful leave for POST /v1/cluster/leave: the node moves
	// its shard replicas to the others, then stops. nil serves none.
	Leave func() error
	// Peers lists the API base URLs ("http://host:port", or https) of the
	// cluster's other members, whom GET /v1/messages/{id}/trace and GET
	// /v1/cluster ask for what the shards they hold say; nil on a lone node,
	// which holds every shard.
	Peers func() []string
	// OwnerAPI is the API base URL of the member that owns a user ("" when
	// this node does): GET /v1/users/{id}/streams is read there. nil on a
	// lone node.
	OwnerAPI func(app, user string) string
	Now      func() time.Time
}

// Server is the HTTP and WebSocket front of one node.
type Server struct {
	o       Options
	log     *slog.Logger
	apps    map[string]*App
	byKey   map[[sha256.Size]byte]*App // by the SHA-256 of each API key
	srv     *fasthttp.Server
	ln      net.Listener
	metrics fasthttp.RequestHandler
	openAPI []byte // openAPIDoc
	// tokens and upgrader are built once and shared by every request.
	tokens   *jwt.Parser
	upgrader *websocket.FastHTTPUpgrader

	// clientRate and serverRate bound sends per user and per API key (nil: no limit).
	clientRate, serverRate *rateLimiter

	// wsWriteBuffers lends write buffers to connections only while they write.
	wsWriteBuffers sync.Pool

	// panics counts the panics recovered, by where they happened: http
	// (a request handler), ws_upgrade, ws_read, ws_write.
	panics *prometheus.CounterVec
	// hooks are for tests only: they let a test make the code panic where
	// outside input is handled. nil in production.
	hooks struct {
		request func(*fasthttp.RequestCtx) // at the start of every request
		frame   func([]byte)               // each client frame, before it is parsed
		write   func([]byte)               // each frame, before it is written
	}

	mu     sync.Mutex
	conns  map[*wsConn]struct{}
	byIP   map[string]int // long connections by client address
	closed bool
	wg     sync.WaitGroup
	once   sync.Once
}

// New checks the options and builds a server; Start listens.
func New(o Options) (*Server, error) {
	if o.Node == nil {
		return nil, errors.New("api: Options.Node is required")
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 1 << 20
	}
	if o.HeartbeatTimeout <= 0 {
		o.HeartbeatTimeout = 30 * time.Second
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 10 * time.Second
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 30 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 30 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = time.Minute
	}
	if o.MaxHTTPConnections <= 0 {
		o.MaxHTTPConnections = 32768
	}
	if o.SendQueueBytes <= 0 {
		o.SendQueueBytes = 4 << 20
	}
	if o.MaxConnections <= 0 {
		o.MaxConnections = 100_000
	}
	if o.MaxConnectionsPerIP <= 0 {
		o.MaxConnectionsPerIP = 1000
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxTokenTTL <= 0 {
		o.MaxTokenTTL = 30 * 24 * time.Hour
	}
	if o.Ready == nil {
		o.Ready = func() error { return nil }
	}
	s := &Server{o: o, log: o.Logger, apps: map[string]*App{}, byKey: map[[sha256.Size]byte]*App{}, conns: map[*wsConn]struct{}{}, byIP: map[string]int{},
		clientRate: newRateLimiter(o.ClientSendRate, o.ClientSendBurst), serverRate: newRateLimiter(o.ServerSendRate, o.ServerSendBurst)}
	doc, err := openAPIDoc()
	if err != nil {
		return nil, err
	}
	s.openAPI = doc
	s.panics = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pushd_panics_recovered_total",
		Help: "Panics recovered where outside input is handled, by where: http (a request handler), ws_upgrade, ws_read, ws_write (a long connection's goroutines).",
	}, []string{"where"})
	for _, w := range []string{whereHTTP, whereUpgrade, whereRead, whereWrite} {
		s.panics.WithLabelValues(w) // every series shows from the start, at 0
	}
	if o.Registerer != nil {
		if err := o.Registerer.Register(s.panics); err != nil {
			return nil, fmt.Errorf("api: register metrics: %w", err)
		}
	}
	for _, a := range o.Apps {
		s.apps[a.ID] = a
		for _, sum := range a.APIKeySums {
			s.byKey[sum] = a
		}
	}
	s.tokens = jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(o.Now), jwt.WithLeeway(5*time.Second))
	s.upgrader = &websocket.FastHTTPUpgrader{
		ReadBufferSize: wsReadBuffer, WriteBufferPool: &s.wsWriteBuffers, HandshakeTimeout: 10 * time.Second,
		CheckOrigin: func(*fasthttp.RequestCtx) bool { return true }, // authenticated by token, not by origin
	}
	if o.Gatherer != nil {
		s.metrics = fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{}))
	}
	s.srv = &fasthttp.Server{
		Handler: s.serveHTTP,
		Name:    "pushd",
		// fasthttp refuses a body over its limit by closing the connection
		// with the body unread, which a client can see as a reset instead of
		// the answer. Bodies up to twice max_body_bytes are read and refused
		// with a 413 by handle; only larger ones meet fasthttp's limit.
		MaxRequestBodySize: 2 * o.MaxBodyBytes,
		// A long connection keeps its connection's read buffer for its whole
		// life; 3 KiB (fasthttp's default is 4) bounds request headers at that
		// and keeps an idle device small.
		ReadBufferSize: 3 << 10,
		// Long connections close themselves (wsConn.finish): their
		// handler returns as soon as they are upgraded.
		KeepHijackedConns: true,
		// Against slowloris: a connection that sends a request slower than
		// ReadTimeout, or nothing for IdleTimeout, is closed, and at most
		// Concurrency connections hold a worker (a hijacked long connection
		// gives its worker back at the upgrade).
		ReadTimeout:                   o.ReadTimeout,
		WriteTimeout:                  o.WriteTimeout,
		IdleTimeout:                   o.IdleTimeout,
		Concurrency:                   o.MaxHTTPConnections,
		NoDefaultServerHeader:         false,
		DisableHeaderNamesNormalizing: false,
		Logger:                        fasthttpLogger{o.Logger},
		ErrorHandler: func(ctx *fasthttp.RequestCtx, err error) {
			if errors.Is(err, fasthttp.ErrBodyTooLarge) {
				writeError(ctx, &apiError{Status: http.StatusRequestEntityTooLarge, Code: codeTooLarge, Message: fmt.Sprintf("body: larger than %d bytes", o.MaxBodyBytes)})
				return
			}
			writeError(ctx, badField("request", "%v", err))
		},
	}
	return s, nil
}

// Start listens and serves in an owned goroutine.
func (s *Server) Start() error {
	ln := s.o.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", s.o.Listen); err != nil {
			return fmt.Errorf("api: listen %s: %w", s.o.Listen, err)
		}
	}
	s.ln = ln
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, net.ErrClosed) {
			s.log.Error("api: serve", "err", err)
		}
	}()
	return nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Shutdown stops accepting, closes every long connection, and waits for
// in-flight requests. It is idempotent.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		conns := make([]*wsConn, 0, len(s.conns))
		for c := range s.conns {
			conns = append(conns, c)
		}
		s.mu.Unlock()
		for _, c := range conns {
			c.Kick("server_shutdown")
		}
		if s.ln != nil {
			err = s.srv.ShutdownWithContext(ctx)
			// fasthttp closes only a listener Serve has taken; a Shutdown
			// that comes before Serve's goroutine runs would leave it to
			// serve forever, and the wait below would never end.
			_ = s.ln.Close()
		}
		done := make(chan struct{})
		go func() { s.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			err = ctx.Err()
		}
	})
	return err
}

// serveHTTP is the server's handler: fasthttp does not recover a handler's
// panic, which would end the process, so every request is handled under a
// recover that answers 500 internal.
func (s *Server) serveHTTP(ctx *fasthttp.RequestCtx) {
	defer func() {
		if v := recover(); v != nil {
			s.recovered(whereHTTP, v, "method", string(ctx.Method()), "path", string(ctx.Path()))
			ctx.Response.Reset()
			writeError(ctx, &apiError{Status: http.StatusInternalServerError, Code: codeInternal, Message: "the server failed on this request (logged)"})
		}
	}()
	s.handle(ctx)
}

// recovered counts and logs, with its stack, a panic recovered at where.
func (s *Server) recovered(where string, v any, attrs ...any) {
	s.panics.WithLabelValues(where).Inc()
	s.log.Error("api: recovered a panic", append([]any{"where", where, "panic", fmt.Sprint(v), "stack", string(debug.Stack())}, attrs...)...)
}

func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	if h := s.hooks.request; h != nil {
		h(ctx)
	}
	if n := len(ctx.Request.Body()); n > s.o.MaxBodyBytes {
		writeError(ctx, &apiError{Status: http.StatusRequestEntityTooLarge, Code: codeTooLarge, Message: fmt.Sprintf("body: %d bytes, larger than %d", n, s.o.MaxBodyBytes)})
		return
	}
	path := string(ctx.Path())
	method := string(ctx.Method())
	switch {
	case path == "/healthz":
		writeJSON(ctx, http.StatusOK, map[string]string{"status": "ok"})
	case path == "/readyz":
		if err := s.o.Ready(); err != nil {
			writeError(ctx, &apiError{Status: http.StatusServiceUnavailable, Code: codeUnavailable, Message: err.Error()})
			return
		}
		writeJSON(ctx, http.StatusOK, map[string]string{"status": "ready"})
	case path == "/metrics":
		if s.metrics == nil {
			writeError(ctx, &apiError{Status: http.StatusNotFound, Code: codeNotFound, Message: "metrics are not enabled"})
			return
		}
		s.metrics(ctx)
	case path == "/openapi.json":
		ctx.SetContentType("application/json")
		ctx.SetBody(s.openAPI)
	case path == "/v1/connect":
		s.route(ctx, method, "GET", s.connect, routeClient|routeQueryToken)
	case path == "/v1/devices":
		s.route(ctx, method, "POST", s.bind, routeClient)
	case strings.HasPrefix(path, "/v1/devices/"):
		s.route(ctx, method, "DELETE", s.unbind, routeClient)
	case path == "/v1/logout":
		s.route(ctx, method, "POST", s.logout, routeClient)
	case path == "/v1/badge":
		s.route(ctx, method, "POST", s.setBadge, routeClient)
	case path == "/v1/messages":
		s.route(ctx, method, "POST", s.send, routeClient|routeServer)
	case path == "/v1/messages/batch":
		s.route(ctx, method, "POST", s.sendBatch, routeServer)
	case strings.HasPrefix(path, "/v1/messages/") && strings.HasSuffix(path, "/trace"):
		s.route(ctx, method, "GET", s.messageTrace, routeServer)
	case strings.HasPrefix(path, "/v1/users/") && strings.HasSuffix(path, "/devices"):
		s.route(ctx, method, "GET", s.devices, routeServer)
	case strings.HasPrefix(path, "/v1/users/"):
		s.userRoute(ctx, method, path)
	case path == "/v1/overview":
		s.route(ctx, method, "GET", s.overview, routeServer)
	case path == "/api/push":
		s.route(ctx, method, "POST", s.gorushPush, routeServer)
	case path == "/console" || strings.HasPrefix(path, "/console/"):
		s.serveConsole(ctx, method, path)
	case path == "/v1/push/test":
		s.route(ctx, method, "POST", s.testPush, routeServer)
	case strings.HasPrefix(path, "/v1/groups/"):
		s.route(ctx, method, method, s.groups, routeServer)
	case path == "/v1/cluster":
		s.route(ctx, method, "GET", s.clusterStatus, routeServer)
	case path == "/v1/cluster/leave":
		s.route(ctx, method, "POST", s.clusterLeave, routeServer)
	case path == "/v1/calls":
		s.route(ctx, method, "POST", s.invite, routeClient|routeServer)
	case strings.HasPrefix(path, "/v1/calls/"):
		s.route(ctx, method, "POST", s.callAction, routeClient)
	default:
		writeError(ctx, &apiError{Status: http.StatusNotFound, Code: codeNotFound, Message: "no route " + method + " " + path})
	}
}

type routeFlags int

const (
	routeClient routeFlags = 1 << iota
	routeServer
	routeQueryToken
)

type handlerFunc func(ctx *fasthttp.RequestCtx, c *caller) *apiError

func (s *Server) route(ctx *fasthttp.RequestCtx, method, want string, h handlerFunc, flags routeFlags) {
	if method != want {
		ctx.Response.Header.Set("Allow", want)
		writeError(ctx, &apiError{Status: http.StatusMethodNotAllowed, Code: codeBadMethod, Message: fmt.Sprintf("%s takes %s, not %s", ctx.Path(), want, method)})
		return
	}
	c, e := s.authenticate(ctx, flags&routeQueryToken != 0)
	if e == nil {
		switch {
		case c.server && flags&routeServer == 0:
			e = forbidden("%s is for a client (Authorization: Bearer <client token>), not an API key", ctx.Path())
		case !c.server && flags&routeClient == 0:
			e = forbidden("%s is for the app's server (X-API-Key), not a client token", ctx.Path())
		}
	}
	if e == nil {
		e = h(ctx, c)
	}
	if e != nil {
		writeError(ctx, e)
	}
}

func (s *Server) reqContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.o.RequestTimeout)
}

func (s *Server) bind(ctx *fasthttp.RequestCtx, c *caller) *apiError {
	var r bindRequest
	if e := decodeValid(ctx.PostBody(), &r); e != nil {
		return e
	}
	r.defaultEnv(c.app.APNsDefaultEnv)
	rctx, cancel := s.reqContext()
	defer cancel()
	id, err := s.o.Node.Bind(rctx, &wire.Binding{
		App: c.app.ID, User: c.user, DeviceId: r.DeviceID, Provider: r.Provider, Token: r.Token,
		BundleId: r.BundleID, ApnsEnv: r.APNsEnv, PushType: r.PushType, Locale: r.Locale,
	})
	if err != nil {
		return s.fromActorError(err)
	}
	writeJSON(ctx, http.StatusOK, map[string]string{"push_id": id})
	return nil
}

func (s *Server) unbind(ctx *fasthttp.RequestCtx, c *caller) *apiError {
	id := strings.TrimPrefix(string(ctx.Path()), "/v1/devices/")
	if id == "" || len(id) > maxPushID || strings.Contains(id, "/") {
		return badField("push_id", "the path must be /v1/devices/<push_id>")
	}
	rctx, cancel := s.reqContext()
	defer cancel()
	if err := s.o.Node.Unbind(rctx, c.app.ID, c.user, id); err != nil {
		return s.fromActorError(err)
	}
	writeJSON(ctx, http.StatusOK, map[string]bool{"removed": true})
	return nil
}

func (s *Server) logout(ctx *fasthttp.RequestCtx, c *caller) *apiError {
	var r logoutRequest
	if e := decodeValid(ctx.PostBody(), &r); e != nil {
		return e
	}
	rctx, cancel := s.reqContext()
	defer cancel()
	if err := s.o.Node.Logout(rctx, c.app.ID, c.user, r.DeviceID); err != nil {
		return s.fromActorError(err)
	}
	writeJSON(ctx, http.StatusOK, map[string]bool{"logged_out": true})
	return nil
}

type sendAnswer struct {
	MessageID string `json:"message_id"`
	Seq       uint64 `json:"seq"`
	Timestamp int64  `json:"timestamp"`
}

func answerOf(reply *wire.SendReply) *sendAnswer {
	return &sendAnswer{MessageID: reply.MessageId, Seq: reply.Seq, Timestamp: reply.TimestampMs}
}

// decodeSend decodes and validates one message and fills in the sender of a
// client call. Errors name the message's own fields.
func decodeSend(body []byte, c *caller) (*wire.Message, *apiError) {
	var r sendRequest
	if e := decodeStrict(body, &r); e != nil {
		return nil, e
	}
	if e := r.validate(c.server, c.app.Resources); e != nil {
		return nil, e
	}
	if e := c.checkPushConfig(r.PushConfig); e != nil {
		return nil, e
	}
	if !c.server {
		r.From = c.user
	}
	return r.message(c.app.ID), nil
}

func (s *Server) send(ctx *fasthttp.RequestCtx, c *caller) *apiError {
	m, e := decodeSend(ctx.PostBody(), c)
	if e != nil {
		return e
	}
	if e := s.limit(ctx, c, 1); e != nil {
		return e
	}
	if m.ConversationType == 0 {
		if e := s.checkStrangers(c, "to", []string{m.To}); e != nil {
			return e
		}
	}
	rctx, cancel := s.reqContext()
	defer cancel()
	reply, err := s.o.Node.Send(rctx, m)
	if err != nil {
		return s.fromActorError(err)
	}
	writeJSON(ctx, http.StatusOK, answerOf(reply))
	return nil
}

type batchItem struct {
	*sendAnswer
	Error *errorObject `json:"error,omitempty"`
}

// sendBatch sends up to 1000 messages at once (their receivers' actors commit
// them in shared group commits; messages to one receiver keep their order) and
// answers one result per message, in order.
func (s *Server) sendBatch(ctx *fasthttp.RequestCtx, c *caller) *apiError {
	var r batchRequest
	if e := decodeStrict(ctx.PostBody(), &r); e != nil {
		return e
	}
	if len(r.Messages) == 0 || len(r.Messages) > maxBatch {
		return badField("messages", "must hold 1 to %d messages; got %d", maxBatch, len(r.Messages))
	}
	if e := s.limit(ctx, c, len(r.Messages)); e != nil {
		return e
	}
	rctx, cancel := s.reqContext()
	defer cancel()
	results := make([]batchItem, len(r.Messages))
	msgs := make([]*wire.Message, 0, len(r.Messages))
	index := make([]int, 0, len(r.Messages))
	for i, raw := range r.Messages {
		m, e := decodeSend(raw, c)
		if e != nil {
			e.Message = fmt.Sprintf("messages[%d].%s", i, e.Message)
			results[i] = batchItem{Error: e.object()}
			continue
		}
		msgs = append(msgs, m)
		index = append(index, i)
	}
	replies, errs := s.o.Node.SendMany(rctx, msgs)
	for j, i := range index {
		if errs[j] != nil {
			results[i] = batchItem{Error: s.fromActorError(errs[j]).object()}
			continue
		}
		results[i] = batchItem{sendAnswer: answerOf(replies[j])}
	}
	writeJSON(ctx, http.StatusOK, map[string]any{"results": results})
	return nil
}

// deviceView is one device of GET /v1/users/{user_id}/devices. Every field
// the README lists for the route is always there: apns_env is null for other providers, and
// last_verdict null before the binding's first push.
type deviceView struct {
	PushID        string  `json:"push_id"`
	DeviceID      string  `json:"device_id"`
	Provider      string  `json:"provider"`
	APNsEnv       *string `json:"apns_env"`
	PushType      string  `json:"push_type"`
	Locale        string  `json:"locale,omitempty"`
	RegisteredAt  int64   `json:"registered_at"`
	LastVerdict   *string `json:"last_verdict"`
	LastReason    string  `json:"last_reason,omitempty"`
	LastVerdictAt int64   `json:"last_verdict_at,omitempty"`
}

// orNull is s, or nil (JSON null) when s is empty.
func orNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (s *Server) devices(ctx *fasthttp.RequestCtx, c *caller) *apiError {
	user := strings.TrimSuffix(strings.TrimPrefix(string(ctx.Path()), "/v1/users/"), "/devices")
	if e := checkID("user_id", user, maxUserID); e != nil {
		return e
	}
	rctx, cancel := s.reqContext()
	defer cancel()
	bs, err := s.o.Node.Devices(rctx, c.app.ID, user)
	if err != nil {
		return s.fromActorError(err)
	}
	out := make([]deviceView, 0, len(bs))
	for _, b := range bs {
		out = append(out, deviceView{
			PushID: b.PushId, DeviceID: b.DeviceId, Provider: b.Provider, APNsEnv: orNull(b.ApnsEnv), PushType: b.PushType,
			Locale: b.Locale, RegisteredAt: b.RegisteredAtMs, LastVerdict: orNull(b.LastVerdict), LastReason: b.LastReason,
			LastVerdictAt: b.LastVerdictAtMs,
		})
	}
	writeJSON(ctx, http.StatusOK, map[string]any{"devices": out})
	return nil
}

// fasthttpLogger sends fasthttp's own messages (bad requests from clients) to debug.
type fasthttpLogger struct{ l *slog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) { f.l.Debug(fmt.Sprintf(format, args...)) }

// Where a panic was recovered: the label of pushd_panics_recovered_total.
const (
	whereHTTP    = "http"
	whereUpgrade = "ws_upgrade"
	whereRead    = "ws_read"
	whereWrite   = "ws_write"
)
