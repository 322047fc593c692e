package actors

import "testing"

func TestNewStreamWindow(t *testing.T) {
	for _, c := range []struct {
		first, last uint64
		keep        int
		want        streamWindow
	}{
		{0, 0, 10, streamWindow{last: 0, first: 1, storedFirst: 1}},    // nothing stored
		{3, 7, 10, streamWindow{last: 7, first: 3, storedFirst: 3}},    // under the limit
		{1, 25, 10, streamWindow{last: 25, first: 16, storedFirst: 1}}, // an untrimmed run
		{20, 25, 10, streamWindow{last: 25, first: 20, storedFirst: 20}},
	} {
		if got := newStreamWindow(c.first, c.last, c.keep); got != c.want {
			t.Errorf("newStreamWindow(%d, %d, %d) = %+v, want %+v", c.first, c.last, c.keep, got, c.want)
		}
	}
}

// TestStreamWindowTrimsInRuns: the window keeps the newest keep seqs, counts
// each message it lets go once, and deletes them from storage only once
// trimRun have gathered.
func TestStreamWindowTrimsInRuns(t *testing.T) {
	const keep = 3
	w := newStreamWindow(0, 0, keep)
	total, deletes := 0, 0
	for want := uint64(1); want <= keep+2*trimRun+5; want++ {
		seq, dropped, dropBefore := w.next(keep)
		if seq != want {
			t.Fatalf("seq %d, want %d", seq, want)
		}
		if wantFirst := max(1, int(seq)-keep+1); w.first != uint64(wantFirst) {
			t.Fatalf("at %d: first %d, want %d", seq, w.first, wantFirst)
		}
		total += dropped
		if dropBefore != 0 {
			deletes++
			if dropBefore != w.first || dropBefore-1 != uint64(deletes*trimRun) {
				t.Fatalf("at %d: delete below %d (first %d, delete #%d)", seq, dropBefore, w.first, deletes)
			}
		}
		if w.first-w.storedFirst >= trimRun {
			t.Fatalf("at %d: %d messages past the window still stored", seq, w.first-w.storedFirst)
		}
	}
	if total != 2*trimRun+5 || deletes != 2 {
		t.Fatalf("dropped %d in %d deletes, want %d in 2", total, deletes, 2*trimRun+5)
	}
}
