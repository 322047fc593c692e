// Package testwait is for tests only: it waits for a condition that becomes
// true on another goroutine (an actor, a gossip round, a committer) by polling
// it until a deadline. It is the one such loop in the tree, so that every test
// waits the same way and fails with the condition's own words.
package testwait

import (
	"testing"
	"time"
)

// interval is the poll period: short next to the waits it serves (a commit,
// a gossip round), long enough not to steal a core from the code under test.
const interval = 5 * time.Millisecond

// Until calls cond every few milliseconds until it returns nil. When timeout
// passes first it fails t with cond's last error. It never asserts a timing:
// timeout is headroom for a loaded machine, not a bound on the code.
func Until(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still waiting after %v: %v", timeout, err)
		}
		time.Sleep(interval)
	}
}
