package api

import (
	"fmt"
	"testing"
	"time"
)

func TestRateLimiterBuckets(t *testing.T) {
	l := newRateLimiter(10, 20)
	t0 := time.Unix(1000, 0)
	for i := 0; i < 20; i++ {
		if ok, _ := l.take("u/app/bob", 1, t0); !ok {
			t.Fatalf("send %d of a burst of 20 refused", i+1)
		}
	}
	ok, wait := l.take("u/app/bob", 1, t0)
	if ok || wait != 100*time.Millisecond {
		t.Fatalf("21st send: %v, wait %v; want refused, 100ms (one token at 10/s)", ok, wait)
	}
	if ok, _ := l.take("u/app/carol", 5, t0); !ok {
		t.Fatal("another sender shares bob's bucket")
	}
	if ok, _ := l.take("u/app/bob", 5, t0.Add(500*time.Millisecond)); !ok {
		t.Fatal("five tokens back after half a second at 10/s were refused")
	}
	if ok, _ := l.take("u/app/bob", 1, t0.Add(500*time.Millisecond)); ok {
		t.Fatal("a sixth token appeared")
	}
	if ok, _ := l.take("u/app/bob", 20, t0.Add(time.Hour)); !ok {
		t.Fatal("a full bucket after an hour refused a burst")
	}
	if ok, _ := (*rateLimiter)(nil).take("x", 1000, t0); !ok || newRateLimiter(0, 5) != nil || newRateLimiter(-1, 5) != nil {
		t.Fatal("a rate of 0 or -1 limits")
	}
}

// Idle senders' buckets are forgotten once the map grows past the sweep mark; busy ones stay.
func TestRateLimiterForgetsIdleSenders(t *testing.T) {
	l := newRateLimiter(1, 1)
	t0 := time.Unix(1000, 0)
	for i := 0; i < minLimiterSweep; i++ {
		l.take(fmt.Sprint("idle", i), 1, t0)
	}
	l.take("busy", 1, t0.Add(10*time.Second))
	// The next new sender sweeps: the idle ones have refilled, busy has not.
	l.take("new", 1, t0.Add(10*time.Second))
	if n := len(l.buckets); n != 2 {
		t.Fatalf("%d buckets after the sweep, want busy and new", n)
	}
}
