package benchmarks

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/sideshow/apns2"
	"github.com/sideshow/apns2/token"
	"golang.org/x/net/http2"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendorsim"
)

// BenchmarkAPNsPushVsBareClient pushes b.N APNs notifications twice against the
// same simulator: once from a bare apns2 client loop (64 goroutines, one
// HTTP/2 connection: the client's own limit), then through pushd (messages
// sent in batches of 500 to 1,000 offline users; the clock runs from the first
// send to the last push the simulator receives). The ratio is the figure.
func BenchmarkAPNsPushVsBareClient(b *testing.B) {
	n := startNode(b)
	sim := n.d.Simulator()
	const users = 1000
	for u := 0; u < users; u++ {
		n.bind(b, fmt.Sprintf("user%d", u), "iphone", "apns", apnsToken(u))
	}
	bare := bareAPNs(b, sim, b.N)
	sim.Reset()

	var batches [][]byte
	for i := 0; i < b.N; {
		var msgs []any
		for j := 0; j < 500 && i < b.N; j, i = j+1, i+1 {
			msgs = append(msgs, message("sender", fmt.Sprintf("user%d", i%users), "hi", true))
		}
		body, _ := json.Marshal(map[string]any{"messages": msgs})
		batches = append(batches, body)
	}
	b.ResetTimer()
	start := time.Now()
	parallel(4, len(batches), func(i int) {
		n.post(b, "/v1/messages/batch", "", batches[i])
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := sim.Wait(ctx, func([]vendorsim.Record) bool { return sim.Count(push.APNs) >= b.N }); err != nil {
		b.Fatalf("pushd delivered %d of %d pushes: %v", sim.Count(push.APNs), b.N, err)
	}
	el := time.Since(start)
	b.StopTimer()
	pushd := float64(b.N) / el.Seconds()
	b.ReportMetric(pushd, "pushd_pushes/s")
	b.ReportMetric(bare, "bare_pushes/s")
	b.ReportMetric(pushd/bare, "ratio")
}

// bareAPNs sends count pushes with a plain apns2 client and returns pushes/s.
func bareAPNs(b *testing.B, sim *vendorsim.Sim, count int) float64 {
	creds := sim.Credentials()
	key, err := token.AuthKeyFromBytes(creds.APNs.KeyPEM)
	if err != nil {
		b.Fatal(err)
	}
	pool, err := creds.CAPool()
	if err != nil {
		b.Fatal(err)
	}
	c := apns2.NewTokenClient(&token.Token{AuthKey: key, KeyID: creds.APNs.KeyID, TeamID: creds.APNs.TeamID})
	c.Host = sim.Endpoint(push.APNs)
	c.HTTPClient.Transport = &http2.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	payload := []byte(`{"aps":{"alert":{"title":"bench","body":"hi"},"sound":"default"},"message_id":"x"}`)
	start := time.Now()
	parallel(64, count, func(i int) {
		res, err := c.Push(&apns2.Notification{DeviceToken: apnsToken(i % 1000), Topic: creds.APNs.BundleID, Payload: payload, Priority: 10, PushType: apns2.PushTypeAlert})
		if err != nil || res.StatusCode != 200 {
			b.Errorf("bare push: %v %v", err, res)
		}
	})
	return float64(count) / time.Since(start).Seconds()
}
