package storage

import (
	"encoding/binary"
	"fmt"
)

// QuotaUsed returns how many pushes of shard's outbox (app, provider) counted
// against its daily quota on day (the vendor's calendar day, "2006-01-02").
// Each shard counts the pushes its writer sent, in the shard, so that the
// count moves with the shard; the app's count is the sum over the shards.
func (s *Store) QuotaUsed(shard uint64, app, provider, day string) (int64, error) {
	v, ok, err := s.get(quotaKey(shard, app, provider, day))
	if err != nil || !ok {
		return 0, err
	}
	n, k := binary.Uvarint(v)
	if k <= 0 {
		return 0, fmt.Errorf("%w: quota %s/%s/%s in shard %d", ErrCorrupt, app, provider, day, shard)
	}
	return int64(n), nil
}

// SetQuotaUsed records shard's count of the day. Older days' counts are left for Sweep.
func (b *Batch) SetQuotaUsed(shard uint64, app, provider, day string, n int64) {
	_ = b.b.Set(quotaKey(shard, app, provider, day), binary.AppendUvarint(nil, uint64(n)), nil)
}
