package actors

import (
	"sync"
	"time"
)

// unbindMemory is how long the node remembers that a push id was unbound.
const unbindMemory = 2 * time.Minute

// unbindLog remembers the push ids this node's user actors unbound in the last
// unbindMemory. A push job is made from its user's bindings; before sending
// it, a vendor actor must know that the binding has not gone since (logout,
// unregister, an invalid token, the token moving to another user). Reading
// the binding back from Pebble for every push is costly in a large fan-out;
// the log answers "nothing happened to this push id since the
// job was made" from memory, and leaves Pebble to the jobs it cannot vouch
// for: jobs older than unbindMemory or made before the node started (retries
// and recovered jobs), and push ids unbound after the job was made.
type unbindLog struct {
	mu        sync.Mutex
	since     time.Time // when the log began
	at        map[string]time.Time
	lastPrune time.Time
}

func newUnbindLog(now time.Time) *unbindLog {
	return &unbindLog{since: now, lastPrune: now, at: map[string]time.Time{}}
}

// add records that pushID is unbound at now. It is called before the unbind
// is committed, so the log may only err on the side of a Pebble read.
func (l *unbindLog) add(pushID string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.at[pushID] = now
	if now.Sub(l.lastPrune) < unbindMemory {
		return
	}
	l.lastPrune = now
	for id, t := range l.at {
		if now.Sub(t) > unbindMemory {
			delete(l.at, id)
		}
	}
}

// unchanged reports that pushID has certainly not been unbound since made:
// the job is young enough for the log to cover it and no unbind of pushID
// came at or after made.
func (l *unbindLog) unchanged(pushID string, made, now time.Time) bool {
	if made.Before(l.since) || now.Sub(made) >= unbindMemory {
		return false
	}
	l.mu.Lock()
	t, ok := l.at[pushID]
	l.mu.Unlock()
	return !ok || t.Before(made)
}
