package storage

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lni/dragonboat/v4/statemachine"
)

// fakePace is a snapshotPacer on a clock that moves only when the pacer sleeps.
func fakePace(bytesPerSecond int64) (*snapshotPacer, *time.Duration) {
	p := newSnapshotPacer(bytesPerSecond)
	start := time.Unix(1_000_000, 0)
	var slept time.Duration
	p.now = func() time.Time { return start.Add(slept) }
	p.sleep = func(d time.Duration, stop <-chan struct{}) bool {
		select {
		case <-stop:
			return false
		default:
		}
		slept += d
		return true
	}
	return p, &slept
}

func TestSnapshotPacerKeepsToItsRate(t *testing.T) {
	p, slept := fakePace(1 << 20) // 1 MiB/s, bursts of 256 KiB
	var out bytes.Buffer
	w := p.writer(&out, make(chan struct{}))
	block := bytes.Repeat([]byte{'x'}, 300<<10) // larger than a burst: split
	for range 10 {
		if n, err := w.Write(block); n != len(block) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	// 3,000 KiB at 1,024 KiB/s, less the first burst, which goes at once.
	want := time.Duration(float64(time.Second) * float64(10*300-256) / 1024)
	if d := *slept - want; d < -time.Millisecond || d > time.Millisecond {
		t.Fatalf("slept %v for 3,000 KiB at 1 MiB/s, want %v", *slept, want)
	}
	if out.Len() != 10*len(block) {
		t.Fatalf("wrote %d bytes, want %d", out.Len(), 10*len(block))
	}
}

func TestSnapshotPacerStops(t *testing.T) {
	p, _ := fakePace(1 << 10)
	stop := make(chan struct{})
	w := p.writer(&bytes.Buffer{}, stop)
	if _, err := w.Write(make([]byte, 1<<10)); err != nil { // the first burst goes at once
		t.Fatal(err)
	}
	close(stop)
	if _, err := w.Write(make([]byte, 1<<10)); !errors.Is(err, statemachine.ErrSnapshotStopped) {
		t.Fatalf("a paced write after stop: %v, want ErrSnapshotStopped", err)
	}
}

func TestNoSnapshotPacerByDefault(t *testing.T) {
	if p := newSnapshotPacer(0); p != nil {
		t.Fatalf("newSnapshotPacer(0) = %+v, want nil (no limit)", p)
	}
	var out bytes.Buffer
	if w := (*snapshotPacer)(nil).writer(&out, nil); w != &out {
		t.Fatal("a nil pacer wraps the writer")
	}
}

// A shard snapshot streamed to a peer is paced by the store's limit.
func TestShardSnapshotIsPaced(t *testing.T) {
	s, err := Open(t.TempDir(), Options{CacheBytes: 1 << 20, SnapshotBytesPerSecond: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, slept := fakePace(64 << 10)
	s.snapshots = p
	value := strings.Repeat("v", 1000)
	for i := range 512 {
		if err := s.Commit(shardWrite(s, fmt.Sprintf("k%04d", i), value), false); err != nil {
			t.Fatal(err)
		}
	}
	m := s.ShardMachineFactory()(testShard, 1)
	ctx, err := m.PrepareSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := m.SaveSnapshot(ctx, &out, make(chan struct{})); err != nil {
		t.Fatal(err)
	}
	if out.Len() < 512*1000 {
		t.Fatalf("snapshot of %d bytes, want the shard's 512 KB of values", out.Len())
	}
	want := time.Duration(float64(time.Second) * float64(out.Len()-64<<10) / float64(64<<10))
	if d := *slept - want; d < -time.Millisecond || d > time.Millisecond {
		t.Fatalf("a %d-byte snapshot at 64 KiB/s slept %v, want %v", out.Len(), *slept, want)
	}
}
