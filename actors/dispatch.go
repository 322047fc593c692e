package actors

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// workerPool is the protoactor Dispatcher of every pushd actor: a bounded set
// of long-lived goroutines that run mailbox bursts from one FIFO queue.
//
// protoactor's default starts a goroutine per mailbox burst. Under load that
// means hundreds of runnable goroutines (one per busy user actor), each
// growing a fresh stack, and the goroutines everything waits on (the storage
// committer coming back from its fsync, the HTTP handlers) queue behind all
// of them in Go's run queues while the CPU idles. The pool keeps at most
// limit workers running actors, so those goroutines find a free P at once.
//
// Actors may block (a synchronous commit, a call actor waiting for user
// actors), so a bounded pool could starve or deadlock: a watchdog adds a
// worker whenever work is queued and no worker took any for watchdogTick.
// Extra workers end when the queue is empty; the others after workerIdle.
type workerPool struct {
	throughput int
	limit      int32
	work       chan func()
	stop       chan struct{}

	workers atomic.Int32  // running worker goroutines
	idle    atomic.Int32  // workers waiting for work
	taken   atomic.Uint64 // bursts taken from the queue

	mu      sync.Mutex
	stopped bool
	wg      sync.WaitGroup
}

const (
	// workerIdle is how long a worker waits for another burst before it ends.
	workerIdle = 10 * time.Second
	// watchdogTick is how long queued work may wait with no worker taking
	// any before the pool adds one.
	watchdogTick = 5 * time.Millisecond
	// queueDepth bounds the queue; a burst that finds it full runs on a
	// goroutine of its own.
	queueDepth = 1 << 16
)

var _ actor.Dispatcher = (*workerPool)(nil)

func newWorkerPool(throughput int) *workerPool {
	p := &workerPool{
		throughput: throughput,
		limit:      int32(max(8, 4*runtime.GOMAXPROCS(0))),
		work:       make(chan func(), queueDepth),
		stop:       make(chan struct{}),
	}
	p.wg.Add(1)
	go p.watchdog()
	return p
}

// Throughput is how many messages a mailbox handles before it yields.
func (p *workerPool) Throughput() int { return p.throughput }

// Schedule queues fn for a worker, starting one when none is idle and the
// pool is under its limit. After Close, fn runs on a goroutine of its own,
// as with protoactor's default dispatcher, so that mailboxes still drain
// while the actor system stops.
func (p *workerPool) Schedule(fn func()) {
	select {
	case <-p.stop:
		go fn()
		return
	default:
	}
	select {
	case p.work <- fn:
	default:
		go fn() // the queue is full: do not block the sender
		return
	}
	select {
	case <-p.stop: // Close may have drained the queue before fn went in
		p.drain()
		return
	default:
	}
	if p.idle.Load() == 0 && p.workers.Load() < p.limit {
		p.spawn(false)
	}
}

// spawn starts a worker; an extra one (from the watchdog, over the limit)
// ends as soon as the queue is empty.
func (p *workerPool) spawn(extra bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	p.workers.Add(1)
	p.wg.Add(1)
	go p.worker(extra)
}

func (p *workerPool) worker(extra bool) {
	defer p.wg.Done()
	defer p.workers.Add(-1)
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		select {
		case fn := <-p.work:
			p.taken.Add(1)
			fn()
			continue
		default:
		}
		if extra {
			return
		}
		idle.Reset(workerIdle)
		p.idle.Add(1)
		select {
		case fn := <-p.work:
			p.idle.Add(-1)
			p.taken.Add(1)
			fn()
		case <-idle.C:
			p.idle.Add(-1)
			return
		case <-p.stop:
			p.idle.Add(-1)
			return
		}
	}
}

// watchdog adds a worker when queued work waited a whole tick while no
// worker took any: every worker is blocked (or in a very long burst).
func (p *workerPool) watchdog() {
	defer p.wg.Done()
	t := time.NewTicker(watchdogTick)
	defer t.Stop()
	last := p.taken.Load()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		taken := p.taken.Load()
		if taken == last && len(p.work) > 0 && p.idle.Load() == 0 {
			p.spawn(true)
		}
		last = taken
	}
}

// Close ends the idle workers and the watchdog and waits for busy workers to
// finish their bursts; what is still queued then runs on goroutines of its
// own.
func (p *workerPool) Close() {
	p.mu.Lock()
	if !p.stopped {
		p.stopped = true
		close(p.stop)
	}
	p.mu.Unlock()
	p.wg.Wait()
	p.drain()
}

// drain runs what is queued on goroutines of its own (after Close).
func (p *workerPool) drain() {
	for {
		select {
		case fn := <-p.work:
			go fn()
		default:
			return
		}
	}
}
