package benchmarks

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pushd-im/pushd/push"
)

// BenchmarkGroupFanout10k measures the time from POST /v1/messages to the last
// push at the simulator for a group of 10,000 offline members, each with one
// binding, spread over the six providers. Each iteration sends one message.
func BenchmarkGroupFanout10k(b *testing.B) {
	const members = 10_000
	n := startNode(b)
	sim := n.d.Simulator()
	providers := push.Providers
	var list []string
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := 0; i < members; i++ {
		user := fmt.Sprintf("m%05d", i)
		list = append(list, user)
		p := providers[i%len(providers)]
		tok := fmt.Sprintf("tok-%s-%05d", p, i)
		if p == push.APNs {
			tok = apnsToken(i)
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			n.bind(b, user, "phone", string(p), tok)
		}()
	}
	wg.Wait()
	body, _ := json.Marshal(map[string]any{"members": list})
	n.put(b, "/v1/groups/big", body)
	msg, _ := json.Marshal(map[string]any{"from": list[0], "to": "big", "conversation_type": 2, "type": 1, "body": "hi",
		"push_config": map[string]any{"title": "big", "content": "hi"}})
	var total time.Duration
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		before := 0
		for _, p := range providers {
			before += sim.Count(p)
		}
		start := time.Now()
		n.post(b, "/v1/messages", "", msg)
		want := before + members - 1
		deadline := time.Now().Add(5 * time.Minute)
		for {
			got := 0
			for _, p := range providers {
				got += sim.Count(p)
			}
			if got >= want {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("fan-out reached %d of %d pushes", got-before, members-1)
			}
			time.Sleep(time.Millisecond)
		}
		total += time.Since(start)
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/fanout")
}
