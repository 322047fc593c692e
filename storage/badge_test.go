package storage

import (
	"testing"
)

func badgeOf(t *testing.T, s *Store, user string) *BadgeState {
	t.Helper()
	st, err := s.Badge("app", user)
	if err != nil {
		t.Fatalf("Badge(%s): %v", user, err)
	}
	return st
}

func TestBadgeIncrementsAddUp(t *testing.T) {
	s := openStore(t, "")
	if got := badgeOf(t, s, "u").Count; got != 0 {
		t.Fatalf("new user's badge = %d, want 0", got)
	}
	write(t, s, func(b *Batch) {
		b.AddBadge("app", "u", InboxBadgeTag(1), 1)
		b.AddBadge("app", "u", GroupBadgeTag("g1", 7), 2)
		b.AddBadge("app", "other", InboxBadgeTag(1), 5)
	})
	write(t, s, func(b *Batch) { b.AddBadge("app", "u", InboxBadgeTag(2), 3) })
	st := badgeOf(t, s, "u")
	if st.Count != 6 || st.Increments() != 3 {
		t.Errorf("badge = %d from %d increments, want 6 from 3", st.Count, st.Increments())
	}
	if got := badgeOf(t, s, "other").Count; got != 5 {
		t.Errorf("other user's badge = %d, want 5 (its own only)", got)
	}
	// A user whose name extends u's is another owner: none of its records count for u.
	write(t, s, func(b *Batch) { b.AddBadge("app", "u2", InboxBadgeTag(1), 4) })
	if got := badgeOf(t, s, "u").Count; got != 6 {
		t.Errorf("badge of u after u2's increment = %d, want 6", got)
	}
}

func TestBadgeSameMessageCountsOnce(t *testing.T) {
	s := openStore(t, "")
	// A fan-out chunk written again after a restart writes the same tags.
	for range 2 {
		write(t, s, func(b *Batch) { b.AddBadge("app", "u", GroupBadgeTag("g", 3), 1) })
	}
	if got := badgeOf(t, s, "u").Count; got != 1 {
		t.Errorf("badge = %d after the same group message twice, want 1", got)
	}
}

func TestSetBadgeDropsEarlierIncrementsOnly(t *testing.T) {
	s := openStore(t, "")
	write(t, s, func(b *Batch) {
		b.AddBadge("app", "u", InboxBadgeTag(1), 4)
		b.AddBadge("app", "u", GroupBadgeTag("g", 1), 4)
	})
	write(t, s, func(b *Batch) { b.SetBadge("app", "u", 0) })
	if st := badgeOf(t, s, "u"); st.Count != 0 || st.Increments() != 0 {
		t.Errorf("after SetBadge(0): %d from %d increments, want 0 from 0", st.Count, st.Increments())
	}
	write(t, s, func(b *Batch) { b.AddBadge("app", "u", InboxBadgeTag(2), 1) })
	write(t, s, func(b *Batch) { b.SetBadge("app", "u", 10) })
	write(t, s, func(b *Batch) { b.AddBadge("app", "u", InboxBadgeTag(3), 2) })
	if got := badgeOf(t, s, "u").Count; got != 12 {
		t.Errorf("set 10 then +2 = %d, want 12", got)
	}
}

func TestFoldBadgeKeepsLaterIncrements(t *testing.T) {
	s := openStore(t, "")
	write(t, s, func(b *Batch) {
		b.SetBadge("app", "u", 2)
		b.AddBadge("app", "u", InboxBadgeTag(1), 1)
		b.AddBadge("app", "u", InboxBadgeTag(2), 1)
	})
	st := badgeOf(t, s, "u")
	// An increment committed between the read and the fold is not in st.
	write(t, s, func(b *Batch) { b.AddBadge("app", "u", GroupBadgeTag("g", 9), 5) })
	write(t, s, func(b *Batch) { b.FoldBadge(st) })
	after := badgeOf(t, s, "u")
	if after.Count != 9 || after.Increments() != 1 {
		t.Errorf("after fold: %d from %d increments, want 9 from 1 (base 4 + the later 5)", after.Count, after.Increments())
	}
}

func TestBadgeSaturates(t *testing.T) {
	s := openStore(t, "")
	write(t, s, func(b *Batch) {
		b.SetBadge("app", "u", MaxBadge-1)
		b.AddBadge("app", "u", InboxBadgeTag(1), 99)
	})
	if got := badgeOf(t, s, "u").Count; got != MaxBadge {
		t.Errorf("badge = %d, want it held at MaxBadge %d", got, MaxBadge)
	}
	write(t, s, func(b *Batch) { b.SetBadge("app", "u", MaxBadge+5) })
	if got := badgeOf(t, s, "u").Count; got != MaxBadge {
		t.Errorf("SetBadge above the cap = %d, want %d", got, MaxBadge)
	}
}

func TestBadgeSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	write(t, s, func(b *Batch) {
		b.SetBadge("app", "u", 3)
		b.AddBadge("app", "u", InboxBadgeTag(1), 2)
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := badgeOf(t, openStore(t, dir), "u").Count; got != 5 {
		t.Errorf("badge after reopen = %d, want 5", got)
	}
}
