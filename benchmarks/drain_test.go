package benchmarks

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

// BenchmarkDrain1000 measures the time for a device to receive 1,000 stored
// messages after it connects (each iteration is a new device with no cursor).
func BenchmarkDrain1000(b *testing.B) {
	n := startNode(b)
	const stored = 1000
	for k := 0; k < stored/500; k++ {
		var msgs []any
		for i := 0; i < 500; i++ {
			msgs = append(msgs, message("alice", "bob", fmt.Sprintf("m%d", k*500+i), false))
		}
		body, _ := json.Marshal(map[string]any{"messages": msgs})
		n.post(b, "/v1/messages/batch", "", body)
	}
	tok := n.token(b, "bob")
	var total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		ws, _, err := websocket.DefaultDialer.Dial(fmt.Sprintf("ws://%s/v1/connect?device_id=d%d", n.addr, i), http.Header{"Authorization": {"Bearer " + tok}})
		if err != nil {
			b.Fatal(err)
		}
		for got := 0; got < stored; got++ {
			if _, _, err := ws.ReadMessage(); err != nil {
				b.Fatal(err)
			}
		}
		total += time.Since(start)
		ws.Close()
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/drain")
}
