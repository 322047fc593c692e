package benchmarks

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors"
	"github.com/pushd-im/pushd/push/vendorsim"
)

// BenchmarkGroupFanout10k measures the time from POST /v1/messages to the last
// push at the simulator for a group of 10,000 offline members, each with one
// binding, spread over every provider. Each iteration sends one message
// (a whole fan-out: give it a small -benchtime such as 5x).
func BenchmarkGroupFanout10k(b *testing.B) {
	const members = 10_000
	n := startNode(b)
	sim := n.d.Simulator()
	providers := vendors.Providers()
	list := make([]string, members)
	for i := range list {
		list[i] = fmt.Sprintf("m%05d", i)
	}
	parallel(32, members, func(i int) {
		p := providers[i%len(providers)]
		tok := fmt.Sprintf("tok-%s-%05d", p, i)
		if p == push.APNs {
			tok = apnsToken(i)
		}
		n.bind(b, list[i], "phone", string(p), tok)
	})
	body, _ := json.Marshal(map[string]any{"members": list})
	n.put(b, "/v1/groups/big", body)
	msg, _ := json.Marshal(map[string]any{"from": list[0], "to": "big", "conversation_type": 2, "type": 1, "body": "hi",
		"push_config": map[string]any{"title": "big", "content": "hi"}})
	pushes := func() int {
		got := 0
		for _, p := range providers {
			got += sim.Count(p)
		}
		return got
	}
	var total time.Duration
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		want := pushes() + members - 1
		start := time.Now()
		n.post(b, "/v1/messages", "", msg)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		err := sim.Wait(ctx, func([]vendorsim.Record) bool { return pushes() >= want })
		cancel()
		if err != nil {
			b.Fatalf("fan-out reached %d of %d pushes: %v", pushes()-(want-members+1), members-1, err)
		}
		total += time.Since(start)
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/fanout")
}
