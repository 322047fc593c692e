package vendorsim

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/pushd-im/pushd/push"
)

// ErrClosed is returned by Start after Shutdown and by Wait when the Sim shuts down
// before its condition holds.
var ErrClosed = errors.New("vendorsim: simulator shut down")

// Options configures a Sim. The zero value is usable: fresh credentials, a random
// loopback port, no logging, the real clock.
type Options struct {
	// Credentials are what the Sim checks requests against and serves TLS with.
	// Default: GenerateCredentials().
	Credentials *Credentials
	// Addr is the TCP address to listen on. Default "127.0.0.1:0".
	Addr string
	// Logger gets the Sim's logs (requests at Debug). Default: discard.
	Logger *slog.Logger
	// Now is the clock JWT ages and access-token expiries are judged by, and
	// records are stamped with. Injected latencies use the real clock. Default time.Now.
	Now func() time.Time
	// MaxRecords caps the records kept; the oldest are dropped first (Count keeps
	// counting). Default 100000.
	MaxRecords int
}

// Sim is a running vendor simulator. Create it with New, then Start it.
type Sim struct {
	creds   *Credentials
	keys    *parsedCredentials
	addr    string
	log     *slog.Logger
	now     func() time.Time
	records *recorder
	faults  *faultTable
	tokens  *accessTokens
	// apnsTokens are the environments of the APNs device tokens it minted.
	apnsTokens apnsTokenEnvs
	handler    http.Handler
	// vendors holds each simulated vendor's environment, by provider; it is
	// filled by New and read-only afterwards.
	vendors map[push.Provider]*vendorEnv

	// stopping is closed by Shutdown: it ends injected latencies and Waits.
	stopping chan struct{}

	mu       sync.Mutex
	srv      *http.Server
	ln       net.Listener
	started  bool
	closed   bool
	serveErr chan error // the serve goroutine's result, buffered

	shutdownOnce sync.Once
	shutdownErr  error
}

// New builds a Sim from o, with every simulated vendor mounted. It does not listen
// yet; see Start.
func New(o Options) (*Sim, error) {
	if o.Credentials == nil {
		c, err := GenerateCredentials()
		if err != nil {
			return nil, err
		}
		o.Credentials = c
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxRecords <= 0 {
		o.MaxRecords = 100000
	}
	keys, err := o.Credentials.parse()
	if err != nil {
		return nil, err
	}
	s := &Sim{
		creds:    o.Credentials,
		keys:     keys,
		addr:     o.Addr,
		log:      o.Logger,
		now:      o.Now,
		records:  newRecorder(o.MaxRecords),
		faults:   &faultTable{},
		tokens:   newAccessTokens(),
		vendors:  make(map[push.Provider]*vendorEnv),
		stopping: make(chan struct{}),
	}
	mux := http.NewServeMux()
	for _, spec := range vendorSpecs() {
		env := newVendorEnv(s, spec)
		s.vendors[spec.provider] = env
		h, err := spec.newHandler(env)
		if err != nil {
			return nil, fmt.Errorf("vendorsim: %s: %w", spec.provider, err)
		}
		prefix := "/" + string(spec.provider)
		mux.Handle(prefix+"/", http.StripPrefix(prefix, h))
	}
	s.mountAdmin(mux)
	s.handler = mux
	return s, nil
}

// Start listens on Options.Addr with TLS (HTTP/2 and HTTP/1.1 by ALPN) and serves
// in a goroutine the Sim owns. Client certificates are optional and, when given,
// must be signed by the credentials' CA. Start may be called once.
func (s *Sim) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.started {
		return errors.New("vendorsim: already started")
	}
	tlsConf := &tls.Config{
		Certificates: []tls.Certificate{s.keys.server},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    s.keys.caPool,
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2", "http/1.1"},
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return err
	}
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	s.srv = &http.Server{
		Handler:           s.handler,
		TLSConfig:         tlsConf,
		Protocols:         protocols,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       10 * time.Minute, // APNs clients keep connections open
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.ln = ln
	s.started = true
	s.serveErr = make(chan error, 1)
	srv := s.srv
	go func() {
		err := srv.ServeTLS(ln, "", "")
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.serveErr <- err
	}()
	s.log.Info("vendorsim: listening", "url", s.urlLocked())
	return nil
}

// Addr returns the address the Sim listens on ("" before Start).
func (s *Sim) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// URL returns the Sim's base URL, "https://127.0.0.1:port" ("" before Start). An
// unspecified listen host (0.0.0.0, ::) is shown as 127.0.0.1, which the server
// certificate covers.
func (s *Sim) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.urlLocked()
}

func (s *Sim) urlLocked() string {
	if s.ln == nil {
		return ""
	}
	tcp, ok := s.ln.Addr().(*net.TCPAddr)
	if !ok {
		return "https://" + s.ln.Addr().String()
	}
	host := tcp.IP.String()
	if tcp.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "https://" + net.JoinHostPort(host, fmt.Sprint(tcp.Port))
}

// Endpoint returns the base URL a pushd client of provider p is configured with:
// {URL}/apns (apns2 then posts to {URL}/apns/3/device/<token>), {URL}/fcm, ….
// It is "" before Start and for a provider the Sim does not simulate.
func (s *Sim) Endpoint(p push.Provider) string {
	u := s.URL()
	if _, ok := s.vendors[p]; !ok || u == "" {
		return ""
	}
	return u + "/" + string(p)
}

// AuthEndpoint returns the URL of provider p's token endpoint ({URL}/fcm/token for
// FCM), or "" when the provider has none or is not simulated, or before Start.
func (s *Sim) AuthEndpoint(p push.Provider) string {
	spec, ok := vendorSpecFor(p)
	if !ok || spec.authPath == "" {
		return ""
	}
	base := s.Endpoint(p)
	if base == "" {
		return ""
	}
	return base + spec.authPath
}

// Providers returns the providers the Sim simulates, in push.Providers order.
func (s *Sim) Providers() []push.Provider {
	var out []push.Provider
	for _, spec := range vendorSpecs() {
		out = append(out, spec.provider)
	}
	return out
}

// Credentials returns the credentials the Sim checks against. Do not modify them.
func (s *Sim) Credentials() *Credentials {
	return s.creds
}

// ExpireAccessTokens invalidates every access token the Sim's token endpoints have
// issued, so the next send with one gets the vendor's "token expired" answer.
func (s *Sim) ExpireAccessTokens() {
	s.tokens.expireAll()
}

// Shutdown stops the Sim: it ends injected latencies (those requests get a 503),
// stops accepting, lets in-flight requests finish until ctx is done (then closes
// their connections), and waits for the serve goroutine. It is idempotent; later
// calls return the first call's result.
func (s *Sim) Shutdown(ctx context.Context) error {
	s.shutdownOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		srv, serveErr := s.srv, s.serveErr
		s.mu.Unlock()
		close(s.stopping)
		if srv == nil {
			return
		}
		err := srv.Shutdown(ctx)
		if err != nil {
			_ = srv.Close()
		}
		if serr := <-serveErr; serr != nil && err == nil {
			err = serr
		}
		s.shutdownErr = err
		s.log.Info("vendorsim: stopped")
	})
	return s.shutdownErr
}
