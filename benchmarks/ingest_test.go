package benchmarks

import (
	"encoding/json"
	"fmt"
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
	b.ResetTimer()
	start := time.Now()
	parallel(64, b.N, func(i int) {
		n.post(b, "/v1/messages", "", bodies[i%len(bodies)])
	})
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
	b.ResetTimer()
	start := time.Now()
	parallel(8, calls, func(i int) {
		n.post(b, "/v1/messages/batch", "", batches[i%len(batches)])
	})
	el := time.Since(start)
	b.ReportMetric(float64(calls*per)/el.Seconds(), "msgs/s")
}
