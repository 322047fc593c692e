package storage

import (
	"testing"
	"time"
)

// openStore opens a Store in dir (a fresh temp dir when dir is "") and closes it
// when the test ends.
func openStore(t testing.TB, dir string) *Store {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	s, err := Open(dir, Options{CacheBytes: 1 << 20})
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// write builds one batch with fill and commits it durably.
func write(t testing.TB, s *Store, fill func(b *Batch)) {
	t.Helper()
	b := s.NewBatch()
	fill(b)
	if err := s.Commit(b, true); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

// rawSet writes key=value straight into Pebble, bypassing the typed writers:
// how a test stores bytes no writer would produce.
func rawSet(t testing.TB, s *Store, key, value []byte) {
	t.Helper()
	b := s.NewBatch()
	_ = b.b.Set(key, value, nil)
	if err := s.Commit(b, false); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

// allKeys returns every key in the store, in order.
func allKeys(t testing.TB, s *Store) []string {
	t.Helper()
	var keys []string
	if err := s.scan(nil, nil, func(k, _ []byte) (bool, error) {
		keys = append(keys, string(k))
		return true, nil
	}); err != nil {
		t.Fatalf("scan: %v", err)
	}
	return keys
}

// within fails the test when fn has not returned after timeout: a hang
// becomes a failure with a name instead of the whole binary's timeout.
func within(t testing.TB, timeout time.Duration, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(timeout):
		t.Fatalf("%s did not return within %v", what, timeout)
	}
}
