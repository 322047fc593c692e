package vendortest

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushd-im/pushd/push"
)

// Refuses checks that newClient refuses o with an error that wraps invalid
// (the package's ErrInvalidOptions) and names each of fields.
func Refuses[O any, C interface{ Close() }](t testing.TB, newClient func(O) (C, error), o O, invalid error, fields ...string) {
	t.Helper()
	c, err := newClient(o)
	if err == nil {
		c.Close()
		t.Fatal("New accepted bad options")
	}
	if !errors.Is(err, invalid) {
		t.Errorf("error %v does not wrap %v", err, invalid)
	}
	for _, field := range fields {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("error %q does not name %s", err, field)
		}
	}
}

// SameRequest checks that a dry run's exchange shows the request a real send
// put on the wire: the same URL, body and headers.
func SameRequest(t testing.TB, dry, real *push.Exchange) {
	t.Helper()
	if dry.URL != real.URL || dry.Body != real.Body || !reflect.DeepEqual(dry.Headers, real.Headers) {
		t.Errorf("dry run exchange %+v differs from the sent %+v", dry, real)
	}
}

// SameWithoutExchange sends n again with SkipExchange, as the outbox's
// pushes go, and checks that the answer decides the same Result, with no
// Exchange. RetryAfter may differ by the second an HTTP date is read in.
func SameWithoutExchange(t testing.TB, send func(context.Context, *push.Notification) push.Result, n push.Notification, recorded push.Result) {
	t.Helper()
	n.SkipExchange = true
	r := send(context.Background(), &n)
	wait := r.RetryAfter - recorded.RetryAfter
	if r.Exchange != nil || r.Verdict != recorded.Verdict || r.Status != recorded.Status || r.Reason != recorded.Reason ||
		!reflect.DeepEqual(r.InvalidTokens, recorded.InvalidTokens) || !r.InvalidSince.Equal(recorded.InvalidSince) || wait < -time.Second || wait > time.Second {
		t.Errorf("with SkipExchange: %+v; recorded: %+v", r, recorded)
	}
}

// Gate holds a fake vendor's requests until it is opened, and tells when the
// first one arrived, so that a test waits on that rather than polling. A nil
// Gate is open.
type Gate struct {
	arrived, open   chan struct{}
	arrive, opening sync.Once
}

// NewGate returns a closed Gate, opened when t ends at the latest.
func NewGate(t testing.TB) *Gate {
	g := &Gate{arrived: make(chan struct{}), open: make(chan struct{})}
	t.Cleanup(g.Open)
	return g
}

// Pass holds a request until g opens or ctx (the request's) ends, and
// reports whether g opened.
func (g *Gate) Pass(ctx context.Context) bool {
	if g == nil {
		return true
	}
	g.arrive.Do(func() { close(g.arrived) })
	select {
	case <-g.open:
		return true
	case <-ctx.Done():
		return false
	}
}

// AwaitArrival waits until a request reached g, failing t after 10 s.
func (g *Gate) AwaitArrival(t testing.TB) {
	t.Helper()
	select {
	case <-g.arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("no request reached the gate")
	}
}

// Open lets every request held, and every one to come, through.
func (g *Gate) Open() { g.opening.Do(func() { close(g.open) }) }
