package daemon_test

import (
	"sync"
	"time"
)

// testClock is the wall clock plus an offset that a test moves forward:
// timers due by the new time fire at once, the others keep their due time.
// It lets a test reach the vendors' next quota day without waiting for it.
type testClock struct {
	mu     sync.Mutex
	offset time.Duration
	next   int
	timers map[int]*clockTimer
}

type clockTimer struct {
	d    time.Duration // as set, for Armed
	due  time.Time
	f    func()
	real *time.Timer
	once sync.Once
}

func newTestClock() *testClock { return &testClock{timers: map[int]*clockTimer{}} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *testClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.next++
	id := c.next
	t := &clockTimer{d: d, due: time.Now().Add(c.offset + d), f: f}
	c.timers[id] = t
	t.real = time.AfterFunc(d, func() { c.fire(id) })
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if _, ok := c.timers[id]; !ok {
			return false
		}
		delete(c.timers, id)
		return t.real.Stop()
	}
}

func (c *testClock) fire(id int) {
	c.mu.Lock()
	t, ok := c.timers[id]
	delete(c.timers, id)
	c.mu.Unlock()
	if ok {
		t.once.Do(t.f)
	}
}

// Advance moves the clock forward by d. It returns once the functions of the
// timers now due have run, so that whatever they send (to an actor's mailbox)
// is queued before anything the test does next.
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	now := time.Now().Add(c.offset)
	var due []int
	for id, t := range c.timers {
		if !t.due.After(now) {
			t.real.Stop()
			due = append(due, id)
		} else {
			t.real.Reset(t.due.Sub(now))
		}
	}
	c.mu.Unlock()
	for _, id := range due {
		c.fire(id)
	}
}

// Armed is how many timers set for d have neither fired nor been stopped: a
// test learns from it that an actor has set its next timer.
func (c *testClock) Armed(d time.Duration) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if t.d == d {
			n++
		}
	}
	return n
}
