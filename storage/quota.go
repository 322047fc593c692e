package storage

import (
	"encoding/binary"
	"fmt"
)

// QuotaUsed returns how many pushes (app, provider) counted against its daily
// quota on day (the vendor's calendar day, "2006-01-02").
func (s *Store) QuotaUsed(app, provider, day string) (int64, error) {
	v, ok, err := s.get(quotaKey(app, provider, day))
	if err != nil || !ok {
		return 0, err
	}
	n, k := binary.Uvarint(v)
	if k <= 0 {
		return 0, fmt.Errorf("%w: quota %s/%s/%s", ErrCorrupt, app, provider, day)
	}
	return int64(n), nil
}

// SetQuotaUsed records the day's count. Older days' counts are left for Sweep.
func (b *Batch) SetQuotaUsed(app, provider, day string, n int64) {
	_ = b.b.Set(quotaKey(app, provider, day), binary.AppendUvarint(nil, uint64(n)), nil)
}
