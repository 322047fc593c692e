package actors

import (
	"sync"
	"testing"
	"time"
)

// waitFor waits for ch to close, failing the test after a generous bound.
func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func TestWorkerPoolRunsEverything(t *testing.T) {
	p := newWorkerPool(10)
	defer p.Close()
	const n = 10_000
	var wg sync.WaitGroup
	wg.Add(n)
	for range n {
		p.Schedule(wg.Done)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	waitFor(t, done, "every scheduled burst")
}

// TestWorkerPoolBlockedWorkersDoNotStarveTheQueue: bursts that block until a
// later burst runs (an actor waiting for another's answer) fill every worker;
// the watchdog must add one so that the later burst runs.
func TestWorkerPoolBlockedWorkersDoNotStarveTheQueue(t *testing.T) {
	p := newWorkerPool(10)
	defer p.Close()
	release := make(chan struct{})
	var blocked sync.WaitGroup
	for range int(p.limit) + 3 {
		blocked.Add(1)
		p.Schedule(func() { defer blocked.Done(); <-release })
	}
	p.Schedule(func() { close(release) })
	done := make(chan struct{})
	go func() { blocked.Wait(); close(done) }()
	waitFor(t, done, "the releasing burst behind blocked workers")
}

// TestWorkerPoolAfterClose: Close waits for busy workers; bursts scheduled
// afterwards still run (on their own goroutines), so mailboxes drain while
// the actor system stops.
func TestWorkerPoolAfterClose(t *testing.T) {
	p := newWorkerPool(10)
	started, finish, finished := make(chan struct{}), make(chan struct{}), make(chan struct{})
	p.Schedule(func() { close(started); <-finish; close(finished) })
	waitFor(t, started, "the first burst")
	closed := make(chan struct{})
	go func() {
		p.Close()
		select {
		case <-finished:
		default:
			t.Error("Close returned while a burst was running")
		}
		close(closed)
	}()
	close(finish)
	waitFor(t, closed, "Close")
	ran := make(chan struct{})
	p.Schedule(func() { close(ran) })
	waitFor(t, ran, "a burst scheduled after Close")
}
