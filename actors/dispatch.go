package actors

import (
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// workerPool is the protoactor Dispatcher of every pushd actor. protoactor's
// default starts a new goroutine for each burst of a mailbox; such a
// goroutine begins with a small stack and grows it again for every send a
// user actor handles (runtime.newstack was 7% of ingest CPU). The pool runs
// mailboxes on goroutines that live on between bursts, so a grown stack is
// kept. A burst never waits for a worker: with none idle, a new one starts.
// Workers idle for workerIdle end; Close ends the rest and waits for them.
type workerPool struct {
	throughput int
	work       chan func()

	mu      sync.Mutex
	stopped bool
	stop    chan struct{}
	wg      sync.WaitGroup
}

// workerIdle is how long a worker waits for another burst before it ends.
const workerIdle = 10 * time.Second

var _ actor.Dispatcher = (*workerPool)(nil)

func newWorkerPool(throughput int) *workerPool {
	return &workerPool{throughput: throughput, work: make(chan func()), stop: make(chan struct{})}
}

// Throughput is how many messages a mailbox handles before it yields.
func (p *workerPool) Throughput() int { return p.throughput }

// Schedule runs fn on an idle worker, or on a new one. After Close, fn runs on
// a goroutine of its own, as with protoactor's default dispatcher, so that
// mailboxes still drain while the actor system stops.
func (p *workerPool) Schedule(fn func()) {
	select {
	case p.work <- fn:
		return
	default:
	}
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		go fn()
		return
	}
	p.wg.Add(1)
	p.mu.Unlock()
	go p.worker(fn)
}

func (p *workerPool) worker(fn func()) {
	defer p.wg.Done()
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		fn()
		idle.Reset(workerIdle)
		select {
		case fn = <-p.work:
		case <-idle.C:
			return
		case <-p.stop:
			return
		}
	}
}

// Close ends the idle workers and waits for the busy ones to finish their
// bursts.
func (p *workerPool) Close() {
	p.mu.Lock()
	if !p.stopped {
		p.stopped = true
		close(p.stop)
	}
	p.mu.Unlock()
	p.wg.Wait()
}
