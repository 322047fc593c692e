package vendorsim

import (
	"sync"
	"time"

	"github.com/pushd-im/pushd/push"
)

// chinaTime is the zone of the Chinese vendors' quota day (UTC+8, no DST).
var chinaTime = time.FixedZone("CST", 8*3600)

// dailyQuota counts an app's capped messages per quota day against a limit,
// as Huawei, Xiaomi, OPPO and vivo cap what an app may send per day. The day
// is China's (UTC+8) on the Sim's clock. Which messages are capped and how a
// vendor refuses one past the limit are the vendor's: it charges only capped
// messages and answers a failed take in its own shape.
type dailyQuota struct {
	mu    sync.Mutex
	limit int    // 0: unlimited
	day   string // the China date used counts for
	used  int
}

// setLimit caps the messages per day at n (n <= 0: unlimited). Messages
// already counted today stay counted.
func (q *dailyQuota) setLimit(n int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.limit = max(n, 0)
}

// take counts n messages at now and reports whether they fit today's quota;
// when they do not, it counts none. Taking nothing always fits.
func (q *dailyQuota) take(now time.Time, n int) bool {
	if n <= 0 {
		return true
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.rollLocked(now)
	if q.limit > 0 && q.used+n > q.limit {
		return false
	}
	q.used += n
	return true
}

// exhausted reports whether today's quota is used up at now.
func (q *dailyQuota) exhausted(now time.Time) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.rollLocked(now)
	return q.limit > 0 && q.used >= q.limit
}

// rollLocked starts a new count when now is on another China day.
func (q *dailyQuota) rollLocked(now time.Time) {
	if day := now.In(chinaTime).Format(time.DateOnly); day != q.day {
		q.day, q.used = day, 0
	}
}

// untilNextQuotaDay is how long from now until the next quota day starts
// (midnight China time).
func untilNextQuotaDay(now time.Time) time.Duration {
	t := now.In(chinaTime)
	return time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, chinaTime).Sub(now)
}

// SetDailyQuota caps the capped messages the simulated app may send per day at
// provider p, counted per target; 0 is unlimited (the default). Which messages
// are capped and how a send past the cap is answered are the vendor's (see
// its file); the day is China's (UTC+8) on the Sim's clock. Messages sent
// earlier the same day stay counted. A vendor with no daily quota (APNs, FCM)
// ignores it.
func (s *Sim) SetDailyQuota(p push.Provider, n int) {
	if v := s.vendors[p]; v != nil {
		v.quota.setLimit(n)
	}
}
