package benchmarks

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkSendDurable measures durable one-to-one sends per second through
// POST /v1/messages, 64 concurrent clients, 1,000 receivers, no pushes.
func BenchmarkSendDurable(b *testing.B) {
	n := startNode(b)
	bodies := make([][]byte, 1000)
	for i := range bodies {
		bodies[i], _ = json.Marshal(message("sender", fmt.Sprintf("user%d", i), "hello", false))
	}
	const workers = 64
	var next atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				n.post(b, "/v1/messages", "", bodies[i%int64(len(bodies))])
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
	st := n.d.Store().Stats()
	if st.Commits > 0 {
		b.ReportMetric(float64(st.Batches)/float64(st.Commits), "batches/commit")
	}
}

// BenchmarkSendDurableBatch measures durable sends per second through
// POST /v1/messages/batch with 100 messages a call, 8 concurrent clients.
func BenchmarkSendDurableBatch(b *testing.B) {
	n := startNode(b)
	const per = 100
	batches := make([][]byte, 10)
	for k := range batches {
		var msgs []any
		for i := 0; i < per; i++ {
			msgs = append(msgs, message("sender", fmt.Sprintf("user%d", k*per+i), "hello", false))
		}
		batches[k], _ = json.Marshal(map[string]any{"messages": msgs})
	}
	calls := (b.N + per - 1) / per
	var next atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(calls) {
					return
				}
				n.post(b, "/v1/messages/batch", "", batches[i%int64(len(batches))])
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.ReportMetric(float64(calls*per)/el.Seconds(), "msgs/s")
}
