package daemon_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushd-im/pushd/config"
	"github.com/pushd-im/pushd/daemon"
	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendorsim"
	"github.com/pushd-im/pushd/storage"
	"github.com/pushd-im/pushd/wire"
)

func TestGroupMembersAPI(t *testing.T) {
	h := startDaemon(t)
	h.putGroup("team", []string{"carol", "alice", "bob"})
	got := h.mustCall("GET", "/v1/groups/team", "key", nil)
	if got["group_id"] != "team" || got["count"] != float64(3) || strings.Join(strs(got["members"]), ",") != "alice,bob,carol" {
		t.Fatalf("GET team = %v", got)
	}
	if m, _ := got["members"].([]any); len(m) != 3 || m[0] != "alice" || m[2] != "carol" {
		t.Errorf("members not sorted: %v", got["members"])
	}
	// Adding an existing member counts it once; removing a non-member is harmless.
	if n := h.groupMembers("POST", "team", "dave", "alice"); n != 4 {
		t.Errorf("after adding dave (and alice again): members = %d, want 4", n)
	}
	if n := h.groupMembers("DELETE", "team", "bob", "zed"); n != 3 {
		t.Errorf("after removing bob (and non-member zed): members = %d, want 3", n)
	}
	got = h.mustCall("GET", "/v1/groups/team", "key", nil)
	if strings.Join(strs(got["members"]), ",") != "alice,carol,dave" || got["count"] != float64(3) {
		t.Errorf("GET team after add/remove = %v", got)
	}
	// PUT replaces the whole list.
	h.putGroup("team", []string{"erin"})
	if got := h.mustCall("GET", "/v1/groups/team", "key", nil); strings.Join(strs(got["members"]), ",") != "erin" || got["count"] != float64(1) {
		t.Errorf("GET team after replace = %v", got)
	}
	// POST members creates a group that does not exist yet.
	if n := h.groupMembers("POST", "fresh", "a", "b"); n != 2 {
		t.Errorf("POST members on a new group: %d, want 2", n)
	}
	if got := h.mustCall("GET", "/v1/groups/fresh", "key", nil); got["count"] != float64(2) {
		t.Errorf("GET fresh = %v", got)
	}

	// Unknown groups.
	for _, c := range []struct{ method, path string }{
		{"GET", "/v1/groups/nosuch"},
		{"DELETE", "/v1/groups/nosuch/members"},
	} {
		var body any
		if c.method == "DELETE" {
			body = map[string]any{"members": []string{"a"}}
		}
		st, out := h.call(c.method, c.path, "key", body)
		if st != http.StatusNotFound || dig(out, "error", "code") != "not_found" {
			t.Errorf("%s %s: %d %v, want 404 not_found", c.method, c.path, st, out)
		}
	}

	// Bad input names the field.
	over := make([]string, 100001)
	for i := range over {
		over[i] = fmt.Sprintf("m%d", i)
	}
	bad := []struct {
		name, method, path string
		body               any
		field              string
	}{
		{"empty members", "PUT", "/v1/groups/g", map[string]any{"members": []string{}}, "members"},
		{"missing members", "PUT", "/v1/groups/g", map[string]any{}, "members"},
		{"bad member id", "PUT", "/v1/groups/g", map[string]any{"members": []string{"a", "b", "c", "d e"}}, "members[3]"},
		{"long member id", "POST", "/v1/groups/g/members", map[string]any{"members": []string{strings.Repeat("x", 65)}}, "members[0]"},
		{"over 100,000 members", "PUT", "/v1/groups/g", map[string]any{"members": over}, "members"},
		{"bad group id", "PUT", "/v1/groups/bad%20id", map[string]any{"members": []string{"a"}}, "group_id"},
		{"long group id", "GET", "/v1/groups/" + strings.Repeat("g", 65), nil, "group_id"},
		{"unknown field", "PUT", "/v1/groups/g", map[string]any{"members": []string{"a"}, "owner": "a"}, "owner"},
		{"members not a list", "PUT", "/v1/groups/g", map[string]any{"members": "a"}, "members"},
		{"empty remove list", "DELETE", "/v1/groups/team/members", map[string]any{"members": []string{}}, "members"},
	}
	for _, c := range bad {
		st, out := h.call(c.method, c.path, "key", c.body)
		msg, _ := dig(out, "error", "message").(string)
		if st != http.StatusBadRequest || !strings.Contains(msg, c.field) {
			t.Errorf("%s: %d %v, want 400 naming %q", c.name, st, out, c.field)
		}
	}
	if st, _ := h.call("GET", "/v1/groups/g", "key", nil); st != http.StatusNotFound {
		t.Errorf("a refused PUT created group g: GET answered %d", st)
	}

	// Clients may not manage groups.
	for _, c := range []struct{ method, path string }{
		{"PUT", "/v1/groups/team"}, {"POST", "/v1/groups/team/members"},
		{"DELETE", "/v1/groups/team/members"}, {"GET", "/v1/groups/team"},
	} {
		var body any
		if c.method != "GET" {
			body = map[string]any{"members": []string{"erin"}}
		}
		if st, out := h.call(c.method, c.path, "erin", body); st != http.StatusForbidden {
			t.Errorf("client %s %s: %d %v, want 403", c.method, c.path, st, out)
		}
	}
	if got := h.mustCall("GET", "/v1/groups/team", "key", nil); strings.Join(strs(got["members"]), ",") != "erin" {
		t.Errorf("a client changed the group: %v", got)
	}
}

func TestGroupSendErrorsAndClientSend(t *testing.T) {
	h := startDaemon(t)
	h.putGroup("club", []string{"alice", "bob"})
	h.bind("bob", "pixel", push.FCM, "fcm-bob-club")
	group := func(extra map[string]any) map[string]any {
		m := map[string]any{"to": "club", "conversation_type": 2, "type": 1, "body": "x"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	cases := []struct {
		name, auth string
		body       map[string]any
		status     int
		code       string
	}{
		{"server send from a non-member", "key", group(map[string]any{"from": "mallory"}), 403, "not_member"},
		{"client send by a non-member", "mallory", group(nil), 403, "not_member"},
		{"unknown group", "key", group(map[string]any{"from": "alice", "to": "nosuch"}), 404, "not_found"},
		{"client naming another sender", "alice", group(map[string]any{"from": "bob"}), 400, "bad_request"},
	}
	for _, c := range cases {
		st, out := h.call("POST", "/v1/messages", c.auth, c.body)
		if st != c.status || dig(out, "error", "code") != c.code {
			t.Errorf("%s: %d %v, want %d %s", c.name, st, out, c.status, c.code)
		}
	}
	// A member sends as itself; without push_config nobody is pushed.
	ans := h.mustCall("POST", "/v1/messages", "alice", group(map[string]any{"body": "from alice's phone"}))
	if ans["seq"] != float64(1) || ans["message_id"] == nil || ans["timestamp"] == nil {
		t.Fatalf("client group send answered %v", ans)
	}
	h.fanoutDone()
	if n := h.countRecords(push.FCM, "fcm-bob-club"); n != 0 {
		t.Errorf("a group message without push_config was pushed %d times", n)
	}
	c := h.connect("bob", "pixel")
	m := c.message("group:club", 1)
	if m["from"] != "alice" || m["to"] != "club" || m["conversation_type"] != float64(2) || m["body"] != "from alice's phone" || m["message_id"] != ans["message_id"] {
		t.Errorf("group message = %v", m)
	}
	c.quiet("bob")
}

// TestGroupPushRetryOutlivesItsChunk: a node writes the pushes of a fan-out
// chunk as one outbox record. A push the vendor asks to retry in an hour gets
// a record of its own, and the shared one goes as soon as the others are
// delivered; a restart in the wait re-sends only that push (a restart does
// not keep the backoff), and nobody else is pushed again.
func TestGroupPushRetryOutlivesItsChunk(t *testing.T) {
	h := startDaemon(t)
	var bs []binding
	for _, u := range []string{"m1", "m2", "m3"} {
		bs = append(bs, binding{u, "pixel", push.FCM, "fcm-" + u, nil})
	}
	h.bindAll(bs)
	h.putGroup("club", []string{"boss", "m1", "m2", "m3"})
	must(t, h.sim().SetFault(vendorsim.Fault{Provider: push.FCM, Token: "fcm-m2", Status: http.StatusServiceUnavailable, RetryAfter: time.Hour, Times: 1}))
	h.sendGroup("boss", "club", "hello", pushCfg{"title": "boss", "content": "hello"})
	for _, u := range []string{"m1", "m3"} {
		if r := h.records(push.FCM, "fcm-"+u, 1)[0]; !r.Delivered("fcm-" + u) {
			t.Errorf("%s: %d %s, want delivered", u, r.Status, r.Reason)
		}
	}
	if r := h.records(push.FCM, "fcm-m2", 1)[0]; r.Status != http.StatusServiceUnavailable {
		t.Fatalf("m2: %d %s, want the fault's 503", r.Status, r.Reason)
	}
	h.eventually("only m2's push left, in a record of its own", func() bool {
		jobs, chunked, chunks := h.outbox()
		return jobs == 1 && chunked == 0 && chunks == 0
	})

	h.restart()
	if r := h.records(push.FCM, "fcm-m2", 1)[0]; !r.Delivered("fcm-m2") {
		t.Errorf("m2 after the restart: %d %s, want delivered", r.Status, r.Reason)
	}
	h.eventually("outbox empty", func() bool { return h.outboxLen() == 0 })
	for _, u := range []string{"m1", "m3"} {
		if n := h.countRecords(push.FCM, "fcm-"+u); n != 0 {
			t.Errorf("%s pushed %d more times after the restart, want 0", u, n)
		}
	}
}

// TestRecoveredChunkReadsItsBindingsBack: a fan-out chunk is stored with each
// binding by its key only; after a restart its pushes go to the bindings as
// they are then, and not to one removed meanwhile.
func TestRecoveredChunkReadsItsBindingsBack(t *testing.T) {
	h := startDaemon(t)
	h.bindAll([]binding{{"m1", "pixel", push.FCM, "fcm-m1", nil}, {"m2", "pixel", push.FCM, "fcm-m2", nil}})
	app := daemon.DemoAppID
	h.stop()

	// A chunk left by a crash before its pushes were sent; m2's binding goes
	// with it in the same write, as if unbound before the restart.
	st, err := storage.Open(filepath.Join(h.cfg.DataDir, "store"), storage.Options{})
	must(t, err)
	var keys []*wire.Binding
	must(t, st.EachUserBindings(app, []string{"m1", "m2"}, func(_ string, bs []*wire.Binding) error {
		keys = append(keys, bs...)
		return nil
	}))
	if len(keys) != 2 {
		t.Fatalf("bindings before the restart: %v", keys)
	}
	b := st.NewBatch()
	b.PutPushChunk(storage.ShardOf(storage.UserKey(app, "m1")), &wire.PushChunk{Id: st.NewPushID(), CreatedAtMs: time.Now().UnixMilli(), Bindings: keys,
		Message: &wire.Message{App: app, Stream: "group:club", Seq: 1, MessageId: "m-recovered", From: "boss", TimestampMs: time.Now().UnixMilli(),
			PushConfig: &wire.PushConfig{Title: "boss", Content: "recovered"}}})
	b.DeleteBinding(app, "m2", keys[1].PushId)
	must(t, st.Commit(b, true))
	must(t, st.Close())

	h.start()
	if r := h.records(push.FCM, "fcm-m1", 1)[0]; !r.Delivered("fcm-m1") || dig(jsonBody(t, r), "message", "notification", "body") != "recovered" {
		t.Errorf("m1 after the restart: %d %s %s, want the recovered push delivered", r.Status, r.Reason, r.Body)
	}
	h.eventually("outbox empty", func() bool { return h.outboxLen() == 0 })
	if n := h.countRecords(push.FCM, "fcm-m2"); n != 0 {
		t.Errorf("m2, unbound before the restart, pushed %d times", n)
	}
}

// TestActiveActorsByKind: a group's actor is counted in
// pushd_active_actors{kind="group"}, and not in pushd_active_users.
func TestActiveActorsByKind(t *testing.T) {
	h := startDaemon(t)
	h.putGroup("club", []string{"boss", "m1"})
	h.sendGroup("boss", "club", "hello", nil)
	h.fanoutDone()
	users, _ := h.metric("pushd_active_users")
	all, _ := h.metric("pushd_active_actors")
	if v, _ := h.metricWith("pushd_active_actors", "kind", "group"); v != 1 || all != users+1 {
		t.Errorf("pushd_active_actors: %v, of them groups %v; pushd_active_users %v; want the group and the users", all, v, users)
	}
}

// TestTokenActorsDoNotLinger: a bind's token actor keeps nothing and stops
// after its message, while the user's actor stays for the user idle timeout.
func TestTokenActorsDoNotLinger(t *testing.T) {
	h := startDaemon(t)
	h.bind("bob", "pixel", push.FCM, "fcm-linger")
	h.eventually("the token actor stopped", func() bool {
		v, ok := h.metricWith("pushd_active_actors", "kind", "token")
		return ok && v == 0
	})
	if v, _ := h.metricWith("pushd_active_actors", "kind", "user"); v != 1 {
		t.Errorf("user actors: %v, want bob's still alive", v)
	}
}

// TestGroupPushesFollowBindingChanges: the bindings a fan-out read are kept
// for the next message (the store's binding cache); a member's new token, an
// unregistered device and a token moved to a non-member are all seen by the
// next message of the group.
func TestGroupPushesFollowBindingChanges(t *testing.T) {
	h := startDaemon(t)
	h.bindAll([]binding{{"m1", "pixel", push.FCM, "fcm-m1-old", nil}, {"m2", "pixel", push.FCM, "fcm-m2", nil},
		{"m3", "pixel", push.FCM, "fcm-m3", nil}})
	h.putGroup("club", []string{"boss", "m1", "m2", "m3"})
	h.sendGroup("boss", "club", "one", pushCfg{"title": "boss", "content": "one"})
	for _, tok := range []string{"fcm-m1-old", "fcm-m2", "fcm-m3"} {
		h.records(push.FCM, tok, 1)
	}
	h.fanoutDone()

	h.bind("m1", "pixel", push.FCM, "fcm-m1-new") // replaces the device's old token
	id2 := h.devices("m2")[0]["push_id"].(string)
	h.mustCall("DELETE", "/v1/devices/"+id2, "m2", nil)
	h.bind("outsider", "pixel", push.FCM, "fcm-m3") // m3's token moves out of the group
	h.sendGroup("boss", "club", "two", pushCfg{"title": "boss", "content": "two"})
	h.records(push.FCM, "fcm-m1-new", 1)
	h.fanoutDone()
	for tok, want := range map[string]int{"fcm-m1-old": 1, "fcm-m1-new": 1, "fcm-m2": 1, "fcm-m3": 1} {
		if n := h.countRecords(push.FCM, tok); n != want {
			t.Errorf("pushes to %s: %d, want %d", tok, n, want)
		}
	}
}

// TestGroupFanoutResumeSkipsWrittenChunks: when a fan-out record outlives the
// chunks it describes (a crash between a chunk's pushes being written and the
// record moving past it), the resumed fan-out finds each node's mark for the
// chunk and does not push its members a second time.
func TestGroupFanoutResumeSkipsWrittenChunks(t *testing.T) {
	h := startDaemon(t)
	var bs []binding
	for _, u := range []string{"m1", "m2"} {
		bs = append(bs, binding{u, "pixel", push.FCM, "fcm-" + u, nil})
	}
	h.bindAll(bs)
	h.putGroup("club", []string{"boss", "m1", "m2"})
	h.sendGroup("boss", "club", "hello", pushCfg{"title": "boss", "content": "hello"})
	h.records(push.FCM, "fcm-m1", 1)
	h.records(push.FCM, "fcm-m2", 1)
	h.fanoutDone()
	app := daemon.DemoAppID
	h.stop()

	// Put the fan-out of message 1 back, as if the crash came before its end.
	st, err := storage.Open(filepath.Join(h.cfg.DataDir, "store"), storage.Options{})
	must(t, err)
	b := st.NewBatch()
	b.PutFanout(&wire.Fanout{App: app, Group: "club", Seq: 1})
	must(t, st.Commit(b, true))
	must(t, st.Close())

	h.start()
	h.fanoutDone()
	h.eventually("the fan-out record gone", func() bool {
		n := 0
		must(t, h.d.Store().Fanouts(func(*wire.Fanout) bool { n++; return true }))
		return n == 0
	})
	for _, u := range []string{"m1", "m2"} {
		if n := h.countRecords(push.FCM, "fcm-"+u); n != 0 {
			t.Errorf("%s pushed %d more times by the resumed fan-out, want 0", u, n)
		}
	}
}

// fanoutWait bounds the waits of the 2,000-member test (a loaded 2-core machine under -race).
const fanoutWait = 60 * time.Second

// TestGroupMessage2000Members: 2,000 members, 200 of them online; online
// devices get one frame each (and, acked, no push), every other bound device
// one push, unbound members and the sender nothing.
func TestGroupMessage2000Members(t *testing.T) {
	// Under load the fan-out to 2,000 can take a while: acks and heartbeats get slack.
	h := startDaemon(t, func(c *configT) {
		c.AckTimeout = durationT(10 * time.Second)
		c.HeartbeatTimeout = durationT(120 * time.Second)
	})
	const (
		total   = 2000
		online  = 200 // u0000..u0199 connected ("phone", bound too)
		tablets = 50  // u0000..u0049 also have an offline APNs "tablet"
		offFrom = 200 // u0200..u1199 bound and offline
		offTo   = 1200
		twoFrom = 1000 // u1000..u1099 have a second offline device
		twoTo   = 1100
		group   = "big"
	)
	sender := "u0000"
	members := users("u", 0, total)
	var (
		bs         []binding
		wantAPNs   = map[string]bool{}
		wantFCM    = map[string]bool{}
		noPushAPNs = map[string]bool{}
		noPushFCM  = map[string]bool{}
	)
	for i := 0; i < online; i++ {
		u := members[i]
		if i%2 == 0 {
			tok := fmt.Sprintf("fcm-online-%04d", i)
			bs = append(bs, binding{u, "phone", push.FCM, tok, nil})
			noPushFCM[tok] = true
		} else {
			tok := apnsToken(10000 + i)
			bs = append(bs, binding{u, "phone", push.APNs, tok, nil})
			noPushAPNs[tok] = true
		}
	}
	for i := 0; i < tablets; i++ {
		tok := apnsToken(20000 + i)
		bs = append(bs, binding{members[i], "tablet", push.APNs, tok, nil})
		if members[i] == sender {
			noPushAPNs[tok] = true
		} else {
			wantAPNs[tok] = true
		}
	}
	for i := offFrom; i < offTo; i++ {
		if i < 700 {
			tok := apnsToken(30000 + i)
			bs = append(bs, binding{members[i], "iphone", push.APNs, tok, nil})
			wantAPNs[tok] = true
		} else {
			tok := fmt.Sprintf("fcm-offline-%04d", i)
			bs = append(bs, binding{members[i], "pixel", push.FCM, tok, nil})
			wantFCM[tok] = true
		}
		if i >= twoFrom && i < twoTo {
			tok := fmt.Sprintf("fcm-second-%04d", i)
			bs = append(bs, binding{members[i], "pixel2", push.FCM, tok, nil})
			wantFCM[tok] = true
		}
	}
	// u1200..u1999: no binding at all.
	h.bindAll(bs)
	h.putGroup(group, members)

	conns := make([]*wsClient, online)
	for i := range conns {
		conns[i] = h.connect(members[i], "phone")
	}
	for _, c := range conns {
		c.sync() // connected, drained (nothing), online
	}

	// Every online member but the sender reads its frame and acks it at once.
	type got struct {
		i     int
		frame map[string]any
		err   error
	}
	results := make(chan got, online)
	start := time.Now()
	var readers sync.WaitGroup
	for i := 1; i < online; i++ {
		readers.Add(1)
		go func(i int) {
			defer readers.Done()
			f, err := conns[i].readOne(fanoutWait)
			if err != nil {
				err = fmt.Errorf("%w (%v after the send)", err, time.Since(start))
			}
			if err == nil && f["type"] == "message" {
				if err = conns[i].ws.WriteJSON(map[string]any{"type": "ack", "stream": f["stream"], "seq": f["seq"]}); err != nil {
					err = fmt.Errorf("ack: %w", err)
				}
			}
			results <- got{i, f, err}
		}(i)
	}

	ans := h.sendGroup(sender, group, "hello two thousand", pushCfg{"title": "big", "content": "hello two thousand"})
	t.Logf("group send to %d members answered in %v", total, time.Since(start))
	msgID, _ := ans["message_id"].(string)
	if ans["seq"] != float64(1) || msgID == "" {
		t.Fatalf("group send answered %v, want seq 1 and a message_id", ans)
	}

	readers.Wait()
	close(results)
	var bad []string
	for r := range results {
		u := members[r.i]
		if r.err != nil {
			bad = append(bad, fmt.Sprintf("%s: no frame: %v", u, r.err))
			continue
		}
		f := r.frame
		m, _ := f["message"].(map[string]any)
		if f["type"] != "message" || f["stream"] != "group:"+group || f["seq"] != float64(1) ||
			m["message_id"] != msgID || m["from"] != sender || m["to"] != group || m["conversation_type"] != float64(2) || m["body"] != "hello two thousand" {
			bad = append(bad, fmt.Sprintf("%s: frame %v", u, f))
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		t.Fatalf("%d of %d online members did not get the one right frame; first ones:\n%s", len(bad), online-1, strings.Join(bad[:min(len(bad), 5)], "\n"))
	}

	// Wait for the pushes, then for the fan-out to end, then count exactly.
	h.eventuallyWithin(fanoutWait, fmt.Sprintf("%d APNs and %d FCM pushes", len(wantAPNs), len(wantFCM)), func() bool {
		return h.sim().Count(push.APNs) >= len(wantAPNs) && h.sim().Count(push.FCM) >= len(wantFCM)
	})
	h.fanoutDone()
	t.Logf("send to last push: %v", time.Since(start))

	for i, c := range conns {
		if extra := c.sync(); len(extra) != 0 {
			t.Errorf("%s (online): frames beyond the one message: %v", members[i], extra)
		}
	}
	for _, pc := range []struct {
		p      push.Provider
		want   map[string]bool
		noPush map[string]bool
	}{{push.APNs, wantAPNs, noPushAPNs}, {push.FCM, wantFCM, noPushFCM}} {
		perToken, perMessage := delivered(h.sim(), pc.p)
		for tok := range pc.want {
			if perToken[tok] != 1 {
				t.Errorf("%s %s: %d pushes, want 1", pc.p, tok, perToken[tok])
			}
			if perMessage[tok+"/"+msgID] != 1 {
				t.Errorf("%s %s: message %s pushed %d times", pc.p, tok, msgID, perMessage[tok+"/"+msgID])
			}
		}
		for tok, n := range perToken {
			switch {
			case pc.noPush[tok]:
				t.Errorf("%s %s: online acked device or the sender's pushed %d times", pc.p, tok, n)
			case !pc.want[tok]:
				t.Errorf("%s %s: pushed %d times, not a member's bound device", pc.p, tok, n)
			}
		}
		if n := h.sim().Count(pc.p); n != len(pc.want) {
			t.Errorf("%s: %d pushes delivered, want exactly %d", pc.p, n, len(pc.want))
		}
		for _, r := range h.sim().Records(pc.p) {
			if r.Status != 200 {
				t.Errorf("%s %s: status %d %s", pc.p, r.Token, r.Status, r.Reason)
			}
			if s := pushData(r, "stream"); s != "group:"+group {
				t.Errorf("%s %s: push data stream = %q, want group:%s", pc.p, r.Token, s, group)
				break
			}
		}
	}
	if n := h.outboxLen(); n != 0 {
		t.Errorf("outbox holds %d pushes after the fan-out", n)
	}
}

// TestGroupAndInboxStreamsMergedOnReconnect: a user offline in two groups gets
// its inbox and both group streams on connect, each in seq order; acks are
// per stream and a reconnect brings exactly the unacked rest of each.
func TestGroupAndInboxStreamsMergedOnReconnect(t *testing.T) {
	h := startDaemon(t)
	h.putGroup("g1", []string{"alice", "bob", "carol"})
	h.putGroup("g2", []string{"bob", "dave"})

	want := map[string][]string{} // stream → bodies in seq order
	sendInbox := func(from, body string) {
		a := h.send(from, "bob", body, nil)
		want["inbox"] = append(want["inbox"], body)
		if a["seq"] != float64(len(want["inbox"])) {
			t.Fatalf("inbox send %q answered %v", body, a)
		}
	}
	sendGrp := func(from, g, body string) {
		a := h.sendGroup(from, g, body, nil)
		want["group:"+g] = append(want["group:"+g], body)
		if a["seq"] != float64(len(want["group:"+g])) {
			t.Fatalf("group:%s send %q answered %v", g, body, a)
		}
	}
	sendInbox("alice", "i1")
	sendGrp("alice", "g1", "a1")
	sendGrp("dave", "g2", "b1")
	sendInbox("carol", "i2")
	sendGrp("carol", "g1", "a2")
	sendGrp("alice", "g1", "a3")
	sendGrp("dave", "g2", "b2")
	sendInbox("alice", "i3")
	sendGrp("dave", "g2", "b3")
	sendGrp("alice", "g1", "a4")
	sendInbox("dave", "i4")

	// drain reads n frames and checks each stream runs from[stream]+1.. in order and complete.
	drain := func(c *wsClient, from map[string]int) {
		t.Helper()
		next := map[string]int{}
		for s, f := range from {
			next[s] = f + 1
		}
		n := 0
		for s, bodies := range want {
			n += len(bodies) - from[s]
		}
		for i := 0; i < n; i++ {
			f := c.next()
			s, _ := f["stream"].(string)
			m, _ := f["message"].(map[string]any)
			if f["type"] != "message" || want[s] == nil {
				t.Fatalf("frame %d: %v", i, f)
			}
			if seq := frameSeq(f); seq != next[s] {
				t.Fatalf("%s: got seq %d, want %d (out of order, a gap or a duplicate): %v", s, seq, next[s], f)
			}
			if m["body"] != want[s][next[s]-1] {
				t.Fatalf("%s#%d: body %v, want %s", s, next[s], m["body"], want[s][next[s]-1])
			}
			if g, ok := strings.CutPrefix(s, "group:"); ok && (m["to"] != g || m["conversation_type"] != float64(2)) {
				t.Fatalf("%s#%d: message %v", s, next[s], m)
			}
			if s == "inbox" && (m["to"] != "bob" || m["conversation_type"] != float64(0)) {
				t.Fatalf("inbox#%d: message %v", next[s], m)
			}
			next[s]++
		}
		c.quiet("bob after the drain")
	}

	c := h.connect("bob", "phone")
	drain(c, map[string]int{"inbox": 0, "group:g1": 0, "group:g2": 0})
	c.ack("inbox", 2)
	c.ack("group:g1", 3)
	c.sync() // the acks are handled; g2 stays unacked
	c.close()

	sendGrp("dave", "g2", "b4")
	sendInbox("alice", "i5")
	c = h.connect("bob", "phone")
	drain(c, map[string]int{"inbox": 2, "group:g1": 3, "group:g2": 0})
	c.ack("inbox", 5)
	c.ack("group:g1", 4)
	c.ack("group:g2", 4)
	c.sync()
	c.close()

	c = h.connect("bob", "phone")
	c.quiet("bob after acking every stream")
	// Live ones follow, in each stream's order.
	sendGrp("carol", "g1", "a5")
	c.message("group:g1", 5)
	sendInbox("alice", "i6")
	c.message("inbox", 6)
	sendGrp("dave", "g2", "b5")
	c.message("group:g2", 5)

	// Another device of bob's has its own cursors and gets every stream from the start.
	tab := h.connect("bob", "tablet")
	drain(tab, map[string]int{"inbox": 0, "group:g1": 0, "group:g2": 0})
}

// TestGroupMembershipJoinAndLeave: a member added later gets only what is sent
// after it joined; a removed member gets nothing more, online or by push.
func TestGroupMembershipJoinAndLeave(t *testing.T) {
	h := startDaemon(t, patientAcks)
	pc := pushCfg{"title": "team", "content": "news"}
	h.putGroup("team", []string{"alice", "bob"})
	h.bind("bob", "phone", push.FCM, "fcm-bob")
	h.bind("carol", "phone", push.FCM, "fcm-carol")

	m1 := h.sendGroup("alice", "team", "before carol", pc)
	if n := h.groupMembers("POST", "team", "carol"); n != 3 {
		t.Fatalf("members after adding carol = %d", n)
	}
	m2 := h.sendGroup("alice", "team", "after carol", pc)
	if m2["seq"] != float64(2) {
		t.Fatalf("second group message seq = %v", m2["seq"])
	}
	h.records(push.FCM, "fcm-bob", 2)
	h.records(push.FCM, "fcm-carol", 1)
	h.fanoutDone()
	_, perMessage := delivered(h.sim(), push.FCM)
	if perMessage["fcm-carol/"+m1["message_id"].(string)] != 0 || perMessage["fcm-carol/"+m2["message_id"].(string)] != 1 || h.countRecords(push.FCM, "fcm-carol") != 1 {
		t.Errorf("carol's pushes: %v; want only the message sent after she joined", perMessage)
	}

	carol := h.connect("carol", "phone")
	if m := carol.message("group:team", 2); m["body"] != "after carol" {
		t.Errorf("carol's first group message = %v", m)
	}
	carol.quiet("carol (joined after seq 1)")
	carol.ack("group:team", 2)

	bob := h.connect("bob", "phone")
	bob.message("group:team", 1)
	bob.message("group:team", 2)
	bob.ack("group:team", 2)
	bob.quiet("bob")

	if n := h.groupMembers("DELETE", "team", "bob"); n != 2 {
		t.Fatalf("members after removing bob = %d", n)
	}
	if got := h.mustCall("GET", "/v1/groups/team", "key", nil); strings.Join(strs(got["members"]), ",") != "alice,carol" {
		t.Fatalf("members = %v", got["members"])
	}
	m3 := h.sendGroup("alice", "team", "without bob", pc)
	if m := carol.message("group:team", 3); m["message_id"] != m3["message_id"] {
		t.Errorf("carol got %v", m)
	}
	carol.ack("group:team", 3)
	h.fanoutDone()
	bob.quiet("bob after his removal")
	if n := h.countRecords(push.FCM, "fcm-bob"); n != 2 {
		t.Errorf("bob pushed %d times, want 2 (nothing after his removal)", n)
	}
	if n := h.countRecords(push.FCM, "fcm-carol"); n != 1 {
		t.Errorf("carol pushed %d times, want 1 (online and acked for seq 3)", n)
	}
	// A removed member may not send to the group any more.
	st, out := h.call("POST", "/v1/messages", "bob", map[string]any{"to": "team", "conversation_type": 2, "type": 1, "body": "still here?"})
	if st != http.StatusForbidden || dig(out, "error", "code") != "not_member" {
		t.Errorf("removed member sends: %d %v, want 403 not_member", st, out)
	}
}

// The long tests below run only with PUSHD_LONG_TESTS=1 (and not -short):
//
//	PUSHD_LONG_TESTS=1 go test ./daemon -run 'TestGroupFanout' -v -timeout 15m

// TestGroupFanout100kMembers: a 100,000-member group, 20,000 of them with FCM
// bindings (PUSHD_FANOUT_BOUND overrides; binding runs at a few thousand per
// second over HTTP, pushing at about a thousand per second on 2 cores): the
// send is answered fast, every bound member is pushed exactly once, and
// unbound members find the message on connect.
func TestGroupFanout100kMembers(t *testing.T) {
	longTests(t)
	bound := 20000
	if v, err := strconv.Atoi(os.Getenv("PUSHD_FANOUT_BOUND")); err == nil && v > 0 && v < 100000 {
		bound = v
	}
	runGroupFanout(t, 100000, bound)
}

// TestGroupFanout10kOfflineTiming is the benchmark-style run: 10,000 members,
// all offline with FCM bindings; it logs the times.
func TestGroupFanout10kOfflineTiming(t *testing.T) {
	longTests(t)
	runGroupFanout(t, 10000, 9999)
}

// runGroupFanout makes a group of total members m0..; m0 sends; m1..m{bound}
// have one FCM binding each. It logs bind, answer and send-to-last-push times.
func runGroupFanout(t *testing.T, total, bound int) {
	h := startDaemon(t)
	members := make([]string, total)
	for i := range members {
		members[i] = fmt.Sprintf("m%d", i) // short ids: 100,000 fit in a 1 MiB body
	}
	sender := members[0]
	bs := make([]binding, 0, bound)
	for i := 1; i <= bound; i++ {
		bs = append(bs, binding{members[i], "phone", push.FCM, fmt.Sprintf("f%d", i), nil})
	}
	t0 := time.Now()
	h.bindAll(bs)
	bindTime := time.Since(t0)
	t.Logf("bound %d devices in %v (%.0f/s)", bound, bindTime, float64(bound)/bindTime.Seconds())
	t0 = time.Now()
	h.putGroup("huge", members)
	t.Logf("PUT group of %d members in %v", total, time.Since(t0))

	t0 = time.Now()
	h.send(sender, members[1], "a one-to-one message for comparison", nil)
	peer := time.Since(t0)

	start := time.Now()
	ans := h.sendGroup(sender, "huge", "to everyone", pushCfg{"title": "huge", "content": "to everyone"})
	answered := time.Since(start)
	msgID, _ := ans["message_id"].(string)
	if ans["seq"] != float64(1) || msgID == "" {
		t.Fatalf("group send answered %v", ans)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var last time.Time
	err := h.sim().Wait(ctx, func(rs []vendorsim.Record) bool {
		if h.sim().Count(push.FCM) < bound {
			return false
		}
		for _, r := range rs {
			if r.At.After(last) {
				last = r.At
			}
		}
		return true
	})
	if err != nil {
		t.Fatalf("after 3 minutes %d of %d members were pushed: %v", h.sim().Count(push.FCM), bound, err)
	}
	fanout := last.Sub(start)
	t.Logf("%d members (%d bound): one-to-one send answered in %v; group send answered in %v; send to last push %v (%.0f pushes/s)",
		total, bound, peer, answered, fanout, float64(bound)/fanout.Seconds())
	if answered > 2*time.Second {
		t.Errorf("the group send took %v to answer; it should be answered as fast as a one-to-one send (%v), before the fan-out", answered, peer)
	}

	h.fanoutDone()
	perToken, perMessage := delivered(h.sim(), push.FCM)
	if len(perToken) != bound {
		t.Errorf("%d tokens pushed, want %d", len(perToken), bound)
	}
	for _, b := range bs {
		if perToken[b.token] != 1 || perMessage[b.token+"/"+msgID] != 1 {
			t.Errorf("%s: %d pushes (%d of the message), want 1", b.token, perToken[b.token], perMessage[b.token+"/"+msgID])
			break
		}
	}
	// Members without bindings have the message waiting; the sender has nothing.
	for _, i := range []int{bound + 1, (bound + total) / 2, total - 1} {
		if i >= total {
			continue
		}
		c := h.connect(members[i], "phone")
		if m := c.message("group:huge", 1); m["message_id"] != msgID {
			t.Errorf("%s drained %v", members[i], m)
		}
		c.quiet(members[i])
	}
}

// TestGroupStreamKeepsTheNewestMaxPerStream: a member who comes back to a
// busy group drains only its newest offline_max_per_stream messages, before
// and after a restart.
func TestGroupStreamKeepsTheNewestMaxPerStream(t *testing.T) {
	const keep, sent = 5, 150
	h := startDaemon(t, func(c *config.Config) { c.OfflineMaxPerStream = keep })
	h.putGroup("busy", []string{"alice", "bob"})
	for i := 1; i <= sent; i++ {
		h.sendGroup("alice", "busy", "m"+strconv.Itoa(i), nil)
	}
	h.drainsOnly("bob", "phone", "group:busy", sent-keep+1, sent)
	h.restart()
	h.drainsOnly("bob", "tablet", "group:busy", sent-keep+1, sent)
}
