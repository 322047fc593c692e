package suite

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/pushd-im/pushd/config"
)

// runDrain measures the time for a device to receive 1,000 stored messages
// on connect: from the dial to the 1,000th frame, each time a new device of
// the same user (no ack cursor). Warm: one drain after the other, the user's
// actor alive. Cold: the user's actor passivated before each connect.
func runDrain(ctx context.Context, e *env) error {
	const stored = 1000
	warmReps := e.scaled(30, 5)
	coldReps := e.scaled(10, 2)
	e.note("1,000 messages stored for one user (server sends, 2 batches of 500); each drain is a new device of that user, timed from the dial to the 1,000th frame (dial and handshake included)")
	e.note("warm: %d drains back to back (the user's actor alive); cold: %d drains each after the user's actor was passivated (user_idle_timeout %v; Pebble's cache stays warm)", warmReps, coldReps, fanoutIdle)

	e.step("start daemon")
	n, err := startNode(ctx, func(c *config.Config) { c.UserIdleTimeout = config.Duration(fanoutIdle) })
	if err != nil {
		return err
	}
	defer n.close()
	e.step("store 1,000 messages")
	for k := 0; k < stored/500; k++ {
		msgs := make([][]byte, 500)
		for i := range msgs {
			msgs[i] = messageJSON("alice", "bob", fmt.Sprintf("stored message %d with some text in it", k*500+i), false, false)
		}
		if _, err := n.must("POST", "/v1/messages/batch", "", batchJSON(msgs)); err != nil {
			return err
		}
	}
	tok := n.token("bob")
	device := 0
	drain := func() (time.Duration, error) {
		device++
		start := time.Now()
		ws, _, err := websocket.DefaultDialer.DialContext(ctx, "ws://"+n.addr+"/v1/connect?device_id=d"+strconv.Itoa(device), http.Header{"Authorization": {"Bearer " + tok}})
		if err != nil {
			return 0, err
		}
		defer ws.Close()
		_ = ws.SetReadDeadline(time.Now().Add(time.Minute))
		var fr frame
		for seq := uint64(1); seq <= stored; seq++ {
			_, data, err := ws.ReadMessage()
			if err != nil {
				return 0, fmt.Errorf("frame %d: %w", seq, err)
			}
			fr = frame{}
			if err := json.Unmarshal(data, &fr); err != nil || fr.Type != "message" || fr.Seq != seq {
				return 0, fmt.Errorf("frame %d: %s", seq, trunc(data, 200))
			}
		}
		d := time.Since(start)
		// Ack everything, as a client does, so the actor has nothing pending.
		if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"ack","stream":"inbox","seq":1000}`)); err != nil {
			return 0, err
		}
		_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`))
		for { // the pong follows the ack's handling
			_, data, err := ws.ReadMessage()
			if err != nil {
				return 0, err
			}
			if json.Unmarshal(data, &fr) == nil && fr.Type == "pong" {
				break
			}
		}
		return d, nil
	}

	e.step("warm drains")
	if _, err := drain(); err != nil { // the first drain reads the stream from Pebble: not counted
		return err
	}
	var warm []time.Duration
	for i := 0; i < warmReps; i++ {
		d, err := drain()
		if err != nil {
			return err
		}
		warm = append(warm, d)
		e.p.count(i+1, warmReps)
	}
	f := e.add(&Figure{Name: "drain of 1,000 stored messages on connect, warm", Unit: "ms", Count: len(warm), Bar: maxBar(100, "ms")})
	f.P50Ms, f.P99Ms = pct(warm)
	f.Value = f.P50Ms

	e.step("cold drains")
	var cold []time.Duration
	for i := 0; i < coldReps; i++ {
		if v, err := n.waitMetric(ctx, "pushd_active_users", fanoutIdle+15*time.Second, func(v float64) bool { return v == 0 }); err != nil {
			e.note("cold drain %d: %g user actors still active: %v", i, v, err)
		}
		d, err := drain()
		if err != nil {
			return err
		}
		cold = append(cold, d)
		e.p.count(i+1, coldReps)
	}
	f = e.add(&Figure{Name: "drain of 1,000 stored messages on connect, cold actor", Unit: "ms", Count: len(cold), Bar: maxBar(100, "ms")})
	f.P50Ms, f.P99Ms = pct(cold)
	f.Value = f.P50Ms
	e.note("the drain figures are the median of the drains (value = p50); the bar is judged on it")
	return nil
}
