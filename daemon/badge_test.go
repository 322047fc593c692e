package daemon_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/pushd-im/pushd/daemon"
	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendorsim"
)

// badgeOf digs the absolute badge out of a push as the simulator received it:
// APNs aps.badge, FCM android.notification.notification_count, Huawei
// android.notification.badge.set_num (with the app's badge class); -1 when
// the push has none.
func badgeOf(t *testing.T, r vendorsim.Record) int {
	t.Helper()
	var b struct {
		Aps *struct {
			Badge *int `json:"badge"`
		} `json:"aps"`
		Message *struct {
			Android *struct {
				Notification *struct {
					Count *int `json:"notification_count"`
					Badge *struct {
						SetNum *int   `json:"set_num"`
						Class  string `json:"class"`
					} `json:"badge"`
				} `json:"notification"`
			} `json:"android"`
		} `json:"message"`
	}
	if err := json.Unmarshal(r.Body, &b); err != nil {
		t.Fatalf("%s push body %s: %v", r.Provider, r.Body, err)
	}
	switch {
	case b.Aps != nil && b.Aps.Badge != nil:
		return *b.Aps.Badge
	case b.Message == nil || b.Message.Android == nil || b.Message.Android.Notification == nil:
		return -1
	case b.Message.Android.Notification.Count != nil:
		return *b.Message.Android.Notification.Count
	case b.Message.Android.Notification.Badge != nil:
		if c := b.Message.Android.Notification.Badge.Class; c != "im.pushd.demo.MainActivity" {
			t.Errorf("Huawei badge class %q, want the configured im.pushd.demo.MainActivity", c)
		}
		if n := b.Message.Android.Notification.Badge.SetNum; n != nil {
			return *n
		}
	}
	return -1
}

// pushedTo waits for the n-th push to token and returns it.
func (h *harness) pushedTo(p push.Provider, token string, n int) vendorsim.Record {
	h.t.Helper()
	got := h.waitRecords(fmt.Sprintf("push %d to %s", n, token),
		func(r vendorsim.Record) bool {
			return r.Provider == p && (r.Token == token || slices.Contains(r.Tokens, token))
		},
		func(got []vendorsim.Record) bool { return len(got) >= n })
	return got[n-1]
}

// The user's unread badge grows with each message's badge_increment, one to
// one and in groups (offline members through the fan-out's batch, connected
// ones through their actor), each vendor gets the absolute count in its own
// field, POST /v1/badge resets it, and it survives a restart.
func TestBadgeCountsAcrossMessagesAndResets(t *testing.T) {
	h := startDaemon(t)
	bobAPNs, bobFCM, bobHMS, carolHMS := apnsToken(301), "fcm-badge-bob", "hms-badge-bob", "hms-badge-carol"
	h.bind("bob", "iphone", push.APNs, bobAPNs)
	h.bind("bob", "pixel", push.FCM, bobFCM)
	h.bind("bob", "mate", push.HMS, bobHMS)
	h.bind("carol", "mate", push.HMS, carolHMS)
	pushes := 0
	// wantBob waits for bob's next push on each of his devices and checks its badge.
	wantBob := func(what string, badge int) {
		t.Helper()
		pushes++
		for _, d := range []struct {
			p   push.Provider
			tok string
		}{{push.APNs, bobAPNs}, {push.FCM, bobFCM}, {push.HMS, bobHMS}} {
			if got := badgeOf(t, h.pushedTo(d.p, d.tok, pushes)); got != badge {
				t.Errorf("%s: %s badge %d, want %d", what, d.p, got, badge)
			}
		}
	}
	pc := func(inc int) pushCfg { return pushCfg{"title": "Alice", "content": "hi", "badge_increment": inc} }

	for i, c := range []struct{ inc, badge int }{{1, 1}, {2, 3}, {1, 4}} {
		h.send("alice", "bob", fmt.Sprint("m", i), pc(c.inc))
		wantBob(fmt.Sprintf("message %d", i+1), c.badge)
	}
	// A push without badge_increment leaves the badge alone and adds nothing.
	h.send("alice", "bob", "no badge", pushCfg{"title": "Alice", "content": "hi"})
	pushes++
	if got := badgeOf(t, h.pushedTo(push.APNs, bobAPNs, pushes)); got != -1 {
		t.Errorf("a push without badge_increment carries badge %d", got)
	}
	h.pushedTo(push.FCM, bobFCM, pushes)
	h.pushedTo(push.HMS, bobHMS, pushes)

	// The app opens: the badge goes back to 0 and counts from there.
	if out := h.mustCall("POST", "/v1/badge", "bob", map[string]any{"count": 0}); out["count"] != float64(0) {
		t.Fatalf("POST /v1/badge answered %v", out)
	}
	h.send("alice", "bob", "after reset", pc(1))
	wantBob("after the reset", 1)

	// A group message adds to each member's badge but the sender's; bob
	// and carol are offline, so the fan-out's batch writes both.
	h.putGroup("g-badge", []string{"alice", "bob", "carol"})
	h.sendGroup("alice", "g-badge", "to all", pc(1))
	wantBob("group message", 2)
	if got := badgeOf(t, h.pushedTo(push.HMS, carolHMS, 1)); got != 1 {
		t.Errorf("carol's group push badge %d, want 1", got)
	}
	// With a live connection bob's actor takes the group message.
	ws := h.connect("bob", "web")
	ws.sync()
	h.sendGroup("alice", "g-badge", "to all again", pc(2))
	wantBob("group message while connected", 4)
	ws.close()
	if st, err := h.d.Store().Badge(daemon.DemoAppID, "alice"); err != nil || st.Count != 0 {
		t.Errorf("the sender's own badge: %v, %v; want 0", st, err)
	}

	// Set to a number, then through a restart: it is durable.
	h.mustCall("POST", "/v1/badge", "bob", map[string]any{"count": 10})
	h.restart()
	pushes = 0 // the simulator restarts with the daemon, without its records
	h.send("alice", "bob", "after restart", pc(1))
	wantBob("after a restart", 11)

	// A bad count is refused, naming the field, and changes nothing.
	for _, body := range []any{map[string]any{"count": -1}, map[string]any{"count": 100000}, map[string]any{}, map[string]any{"count": "0"}} {
		st, out := h.call("POST", "/v1/badge", "bob", body)
		e, _ := out["error"].(map[string]any)
		if st != http.StatusBadRequest || e["code"] != "bad_request" {
			t.Errorf("POST /v1/badge %v: %d %v, want 400 bad_request", body, st, out)
		}
	}
	if st, err := h.d.Store().Badge(daemon.DemoAppID, "bob"); err != nil || st.Count != 11 {
		t.Errorf("bob's badge after the refused sets: %v, %v; want 11", st, err)
	}
}

// A user's badge counts messages whether or not it has a device to push to,
// and its increment records are folded into the count as they pile up; a
// group member without a binding counts through the fan-out's batch too.
func TestBadgeWithoutDevicesAndFolded(t *testing.T) {
	h := startDaemon(t)
	const n = 40 // more than the actor lets pile up before folding
	for i := range n {
		h.send("alice", "dave", fmt.Sprint("m", i), pushCfg{"title": "Alice", "content": "hi", "badge_increment": 1})
	}
	st, err := h.d.Store().Badge(daemon.DemoAppID, "dave")
	if err != nil || st.Count != n || st.Increments() >= n {
		t.Fatalf("dave's badge after %d messages: %v, %v; want %d, folded into fewer records", n, st, err, n)
	}
	h.putGroup("g-nodevice", []string{"alice", "dave", "erin"})
	h.sendGroup("alice", "g-nodevice", "to all", pushCfg{"title": "Alice", "content": "hi", "badge_increment": 3})
	// The fan-out runs after the send's answer: wait for its write.
	h.eventually("the group message counted for its members", func() bool {
		for user, want := range map[string]uint32{"dave": n + 3, "erin": 3} {
			if st, err := h.d.Store().Badge(daemon.DemoAppID, user); err != nil || st.Count != want {
				return false
			}
		}
		return true
	})
	if st, err := h.d.Store().Badge(daemon.DemoAppID, "alice"); err != nil || st.Count != 0 {
		t.Errorf("the sender's badge: %v, %v; want 0", st, err)
	}
}
