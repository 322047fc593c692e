package storage

import (
	"io"
	"time"

	"github.com/lni/dragonboat/v4/statemachine"
	"golang.org/x/time/rate"
)

// snapshotPacer paces the bytes of the shard snapshots this node streams to a replica that
// catches up (a node joining, or replacing a dead one). Unpaced, a node sending several
// shards at once sends as fast as its disk and network go, and the Raft traffic and requests
// beside them wait. One pacer serves every shard of the store, so the limit is per node.
type snapshotPacer struct {
	lim   *rate.Limiter
	now   func() time.Time
	sleep func(d time.Duration, stop <-chan struct{}) bool // false: stop closed first
}

// snapshotChunk is the most a paced write sends at once (the snapshot's buffer size).
const snapshotChunk = 256 << 10

// newSnapshotPacer returns a pacer of bytesPerSecond, or nil (no pacing) for 0 or less.
func newSnapshotPacer(bytesPerSecond int64) *snapshotPacer {
	if bytesPerSecond <= 0 {
		return nil
	}
	burst := int(min(bytesPerSecond, snapshotChunk))
	return &snapshotPacer{lim: rate.NewLimiter(rate.Limit(bytesPerSecond), burst), now: time.Now, sleep: sleepOrStop}
}

func sleepOrStop(d time.Duration, stop <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-stop:
		return false
	}
}

// writer returns w paced by p (w itself when p is nil). A write waiting for its turn returns
// statemachine.ErrSnapshotStopped when stop closes.
func (p *snapshotPacer) writer(w io.Writer, stop <-chan struct{}) io.Writer {
	if p == nil {
		return w
	}
	return &pacedWriter{w: w, p: p, stop: stop}
}

type pacedWriter struct {
	w    io.Writer
	p    *snapshotPacer
	stop <-chan struct{}
}

func (pw *pacedWriter) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		chunk := min(len(b), pw.p.lim.Burst())
		now := pw.p.now()
		if d := pw.p.lim.ReserveN(now, chunk).DelayFrom(now); d > 0 && !pw.p.sleep(d, pw.stop) {
			return n, statemachine.ErrSnapshotStopped
		}
		m, err := pw.w.Write(b[:chunk])
		n += m
		if err != nil {
			return n, err
		}
		b = b[chunk:]
	}
	return n, nil
}
