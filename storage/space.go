package storage

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrNoSpace is returned by a commit that would add data while the disk's free space is below
// the store's reserve (Options.MinFreeBytes). Batches that only answer for work already accepted
// (deletes, verdicts, cursors, outbox bookkeeping) still commit, and so does everything once
// space returns.
var ErrNoSpace = errors.New("storage: free disk space is below the reserve; new data is refused")

// defaultMinFreeBytes is the reserve kept free by default: room for Pebble's flushes and
// compactions, and for the bookkeeping writes still allowed, to finish.
const defaultMinFreeBytes = 256 << 20

// spaceRecheck is how long a reading of the free space serves while there is enough: one
// statfs per interval however many commits.
const spaceRecheck = 250 * time.Millisecond

// spaceGuard refuses growing batches while the disk under the store is short of space.
type spaceGuard struct {
	min   uint64
	free  func() (uint64, error)
	every time.Duration // how long a reading serves while there is enough space

	mu        sync.Mutex   // one reading at a time
	checkedAt atomic.Int64 // unix nanoseconds of the last reading
	low       atomic.Bool
	refused   atomic.Uint64
}

func newSpaceGuard(dir string, min int64, free func() (uint64, error), every time.Duration) *spaceGuard {
	if min < 0 {
		return nil
	}
	if min == 0 {
		min = defaultMinFreeBytes
	}
	if free == nil {
		free = func() (uint64, error) { return statfsFree(dir) }
	}
	if every <= 0 {
		every = spaceRecheck
	}
	return &spaceGuard{min: uint64(min), free: free, every: every}
}

// statfsFree is the space available to an unprivileged writer on dir's file system.
func statfsFree(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("storage: statfs %s: %w", dir, err)
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// allow reports whether a batch that grows the store may commit now. While space is low it
// reads the free space at every growing commit, so writes resume as soon as space returns.
func (g *spaceGuard) allow() bool {
	if g == nil {
		return true
	}
	now := time.Now().UnixNano()
	if !g.low.Load() && now-g.checkedAt.Load() < int64(g.every) {
		return true // the common case: no lock, no reading
	}
	g.mu.Lock()
	if g.low.Load() || now-g.checkedAt.Load() >= int64(g.every) {
		free, err := g.free()
		g.checkedAt.Store(time.Now().UnixNano())
		// A failed reading leaves the last verdict: the disk is not known to be full.
		if err == nil {
			g.low.Store(free < g.min)
		}
	}
	g.mu.Unlock()
	if g.low.Load() {
		g.refused.Add(1)
		return false
	}
	return true
}

// LowSpace reports whether the store last found its disk short of space (and refuses new data).
func (s *Store) LowSpace() bool { return s.space != nil && s.space.low.Load() }
