package actors

import (
	"testing"
	"time"
)

func TestUnbindLog(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	l := newUnbindLog(start)
	at := func(d time.Duration) time.Time { return start.Add(d) }

	if !l.unchanged("p1", at(time.Second), at(2*time.Second)) {
		t.Fatal("a push id never unbound must be unchanged")
	}
	if l.unchanged("p1", at(-time.Second), at(time.Second)) {
		t.Fatal("a job made before the log began must be checked")
	}
	if l.unchanged("p1", at(time.Second), at(time.Second+unbindMemory)) {
		t.Fatal("a job older than the log's memory must be checked")
	}

	l.add("p1", at(5*time.Second))
	if l.unchanged("p1", at(4*time.Second), at(6*time.Second)) {
		t.Fatal("unbound after the job was made: must be checked")
	}
	if l.unchanged("p1", at(5*time.Second), at(6*time.Second)) {
		t.Fatal("unbound in the job's millisecond: must be checked")
	}
	if !l.unchanged("p1", at(6*time.Second), at(7*time.Second)) {
		t.Fatal("a job made after the unbind (bound again) needs no check")
	}
	if !l.unchanged("p2", at(4*time.Second), at(6*time.Second)) {
		t.Fatal("another push id is unchanged")
	}

	// Old entries are pruned once a memory has passed.
	l.add("p3", at(5*time.Second+2*unbindMemory))
	l.mu.Lock()
	_, kept := l.at["p1"]
	l.mu.Unlock()
	if kept {
		t.Fatal("p1 should have been pruned")
	}
}
