package storage

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pushd-im/pushd/wire"
)

// While the disk is short of space, batches that add data are refused with ErrNoSpace and
// write nothing; bookkeeping for work already accepted (deletes, verdicts, cursors) and reads go
// on; once space returns, new data is taken again without a restart.
func TestLowDiskRefusesNewDataOnly(t *testing.T) {
	var free atomic.Uint64
	free.Store(1 << 30)
	s, err := Open(t.TempDir(), Options{MinFreeBytes: 100 << 20, spaceRecheck: time.Nanosecond,
		freeBytes: func() (uint64, error) { return free.Load(), nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	job := &wire.PushJob{Id: 1, App: "app", User: "bob", PushId: "p1"}
	write(t, s, func(b *Batch) {
		b.PutBinding(&wire.Binding{App: "app", User: "bob", PushId: "p1", Token: "t1"})
		b.PutPush(job)
	})

	free.Store(10 << 20)
	grow := func() error {
		b := s.NewBatch()
		b.PutMessage("app", "bob", &wire.Message{Stream: "inbox", Seq: 1, Body: "hi"})
		return s.Commit(b, true)
	}
	if err := grow(); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("a message on a full disk: %v, want ErrNoSpace", err)
	}
	if !s.LowSpace() || s.Stats().RefusedNoSpace != 1 {
		t.Fatalf("LowSpace %v, refused %d", s.LowSpace(), s.Stats().RefusedNoSpace)
	}
	if last, err := s.LastSeq("app", "bob", "inbox"); err != nil || last != 0 {
		t.Fatalf("the refused message was written: last seq %d, %v", last, err)
	}
	write(t, s, func(b *Batch) {
		b.DeletePush(job)
		b.PutVerdict("app", "bob", "p1", &wire.VerdictRecord{Verdict: "delivered"})
		b.SetCursor("app", "bob", "phone", "inbox", 0)
	})
	if bs, err := s.UserBindings("app", "bob"); err != nil || len(bs) != 1 {
		t.Fatalf("reads on a full disk: %v, %v", bs, err)
	}

	free.Store(1 << 30)
	if err := grow(); err != nil {
		t.Fatalf("a message once space returned: %v", err)
	}
	if s.LowSpace() {
		t.Fatal("still low after space returned")
	}
}

func TestStatfsFreeReadsTheDisk(t *testing.T) {
	if n, err := statfsFree(t.TempDir()); err != nil || n == 0 {
		t.Fatalf("statfsFree = %d, %v", n, err)
	}
	if _, err := statfsFree("/does/not/exist"); err == nil {
		t.Fatal("statfsFree of a missing dir succeeded")
	}
}
