package vendorsim

import (
	"testing"
	"time"
)

func TestDailyQuota(t *testing.T) {
	// 23:00 in China (15:00 UTC): the quota day ends in an hour.
	now := time.Date(2025, 6, 1, 15, 0, 0, 0, time.UTC)
	q := &dailyQuota{}
	if !q.take(now, 1000) || q.exhausted(now) {
		t.Fatal("an unlimited quota refused or ran out")
	}
	q.setLimit(1003) // today's 1000 stay counted
	if !q.take(now, 2) || q.take(now, 2) || !q.take(now, 1) || !q.exhausted(now) {
		t.Fatal("a capped quota did not fill up to its limit exactly")
	}
	if !q.take(now, 0) {
		t.Fatal("taking nothing did not fit a used-up quota")
	}
	if d := untilNextQuotaDay(now); d != time.Hour {
		t.Fatalf("untilNextQuotaDay = %v, want 1h", d)
	}
	next := now.Add(time.Hour) // midnight in China
	if q.exhausted(next) || !q.take(next, 1003) || q.take(next, 1) {
		t.Fatal("a new China day did not start from zero")
	}
	q.setLimit(-5)
	if !q.take(next, 1<<20) {
		t.Fatal("a negative limit is not unlimited")
	}
}
