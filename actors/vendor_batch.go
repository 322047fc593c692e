package actors

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/pushd-im/pushd/wire"
)

// batchWindow is how long a push waits for others with the same payload before
// its request goes out (batching vendors only).
const batchWindow = 2 * time.Millisecond

// addToBatch adds a job to a collecting batch and sends the batch when full.
func (v *vendorActor) addToBatch(c *call, j job) {
	c.jobs = append(c.jobs, j)
	if len(c.jobs) >= v.maxBatch {
		delete(v.pending, c.key)
		v.enqueue(c)
	}
}

// batchKey identifies pushes that may share one vendor request: pushes of the
// same message (same stream position, config and expiry) to bindings of the
// same kind. Everything notification() reads from a job but its token is here.
//
// The push_config's encoding is kept for the last config seen: the jobs of one
// fan-out share it.
func (v *vendorActor) batchKey(j *wire.PushJob) string {
	// A fan-out hands over its pushes of one message one after the other:
	// the key of the last one serves while its fields stay the same (the
	// strings are shared, so comparing them is cheap), where building it
	// for every push is a large share of a batched fan-out's CPU.
	f := batchFieldsOf(j)
	if len(j.Data) == 0 && v.lastKey != "" && f == v.lastFields {
		return v.lastKey
	}
	if pc := j.GetPushConfig(); pc != v.lastConfig {
		v.lastConfig = pc
		v.lastConfigBytes, _ = proto.MarshalOptions{Deterministic: true}.Marshal(pc)
	}
	key := batchKey(j, v.lastConfigBytes)
	if len(j.Data) == 0 {
		v.lastFields, v.lastKey = f, key
	}
	return key
}

// batchFields are the fields of a job batchKey reads, but its data.
type batchFields struct {
	messageID, stream, from, pushType, bundleID, apnsEnv, collapseID string
	seq                                                              uint64
	expiresAtMs                                                      int64
	priority                                                         int32
	config                                                           *wire.PushConfig
}

func batchFieldsOf(j *wire.PushJob) batchFields {
	return batchFields{j.MessageId, j.Stream, j.From, j.PushType, j.BundleId, j.ApnsEnv, j.CollapseId,
		j.Seq, j.ExpiresAtMs, j.Priority, j.PushConfig}
}

func batchKey(j *wire.PushJob, config []byte) string {
	var b strings.Builder
	for _, s := range []string{j.MessageId, j.Stream, strconv.FormatUint(j.Seq, 10), j.From, j.PushType, j.BundleId, j.ApnsEnv,
		strconv.FormatInt(j.ExpiresAtMs, 10), strconv.Itoa(int(j.Priority)), j.CollapseId} {
		b.WriteString(s)
		b.WriteByte(0)
	}
	keys := make([]string, 0, len(j.Data))
	for k := range j.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteString(k + "=" + j.Data[k])
		b.WriteByte(0)
	}
	b.Write(config)
	return b.String()
}
