package daemon_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/pushd-im/pushd/config"
)

// A user's client tokens may send at limits.client_sends_per_second with bursts of
// limits.client_send_burst; past them the answer is 429 rate_limited with Retry-After, and
// nothing is sent. Another user, and the app's backend (unlimited by default), are not held
// back by it. A batch counts each of its messages.
func TestClientSendsAreRateLimited(t *testing.T) {
	h := startDaemon(t, func(c *config.Config) {
		c.Limits.ClientSendsPerSecond, c.Limits.ClientSendBurst = 1, 3
		c.Limits.ServerSendsPerSecond, c.Limits.ServerSendBurst = 2, 5
	})
	msg := func(body string) map[string]any {
		return map[string]any{"to": "bob", "conversation_type": 0, "type": 1, "body": body}
	}
	for i := 0; i < 3; i++ {
		if st, out := h.call("POST", "/v1/messages", "alice", msg("m"+strconv.Itoa(i+1))); st != http.StatusOK {
			t.Fatalf("send %d of the burst: %d %v", i+1, st, out)
		}
	}
	req, err := h.newRequest("POST", "/v1/messages", "alice", msg("refused"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if retry, _ := strconv.Atoi(resp.Header.Get("Retry-After")); resp.StatusCode != http.StatusTooManyRequests || retry < 1 {
		t.Fatalf("4th send in a burst of 3: %d, Retry-After %q; want 429 with a wait", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	st, out := h.call("POST", "/v1/messages", "alice", msg("refused"))
	if e, _ := out["error"].(map[string]any); st != http.StatusTooManyRequests || e["code"] != "rate_limited" {
		t.Fatalf("over the rate: %d %v, want 429 rate_limited", st, out)
	}
	if st, out := h.call("POST", "/v1/messages", "carol", msg("m4")); st != http.StatusOK {
		t.Fatalf("another user held back by alice's rate: %d %v", st, out)
	}
	// bob's inbox has alice's three and carol's one: the refused sends were not stored.
	h.drainsOnly("bob", "phone", "inbox", 1, 4)

	// The backend's key: a batch of 5 is its whole burst, a 6th is refused, and a batch larger
	// than the burst is refused as such.
	batch := func(n int) map[string]any {
		var ms []map[string]any
		for i := 0; i < n; i++ {
			ms = append(ms, map[string]any{"from": "srv", "to": "dave", "conversation_type": 0, "type": 1, "body": "b"})
		}
		return map[string]any{"messages": ms}
	}
	if st, out := h.call("POST", "/v1/messages/batch", "key", batch(5)); st != http.StatusOK {
		t.Fatalf("a batch of the burst: %d %v", st, out)
	}
	if st, _ := h.call("POST", "/v1/messages/batch", "key", batch(1)); st != http.StatusTooManyRequests {
		t.Fatalf("a send past the key's burst: %d, want 429", st)
	}
	if st, out := h.call("POST", "/v1/messages/batch", "key", batch(6)); st != http.StatusTooManyRequests {
		t.Fatalf("a batch larger than the burst: %d %v, want 429", st, out)
	}
}
