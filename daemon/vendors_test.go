package daemon_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pushd-im/pushd/config"
	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors"
	"github.com/pushd-im/pushd/push/vendorsim"
)

// End-to-end tests of the four Android vendors (Huawei, Xiaomi, OPPO, vivo)
// through the daemon against its built-in simulator (issue 3). Each test runs
// the vendors side by side; every count is exact.

// vndTok is the device token of user's device for provider p.
func vndTok(p push.Provider, user, device string) string {
	return string(p) + "-" + user + "-" + device
}

// vndNotifyID is the notify_id Huawei and Xiaomi get for a collapse id: the
// FNV-1a hash with the sign bit cleared (0 becomes 1).
func vndNotifyID(collapseID string) int {
	f := fnv.New32a()
	f.Write([]byte(collapseID))
	id := int(f.Sum32() & math.MaxInt32)
	if id == 0 {
		id = 1
	}
	return id
}

// vndSeconds parses "86400s" or "86400"; -1 when it does not parse.
func vndSeconds(s string) int {
	n, err := strconv.Atoi(strings.TrimSuffix(s, "s"))
	if err != nil {
		return -1
	}
	return n
}

// near24h reports whether secs is a time to live of one day, less what the
// push spent in the outbox (PushTTL is 24 h).
func near24h(secs int) bool { return secs > 86400-120 && secs <= 86400 }

// TestVendorsPushConfigFieldMapping sends one message with every push_config
// field and two with resources profiles to a user with one device per vendor,
// and checks each field where the vendor wants it. An unknown resources_id is
// refused at send time.
func TestVendorsPushConfigFieldMapping(t *testing.T) {
	zero := 0
	h := startVendorDaemon(t, func(a *config.App) {
		a.Resources = map[string]map[string]config.Resource{
			"alert": {
				"hms":    {Sound: "ring.ogg", ChannelID: "chat-alerts", Category: "WORK", Importance: "LOW"},
				"xiaomi": {Sound: "ring.ogg", ChannelID: "chat-alerts"},
				"oppo":   {ChannelID: "chat-alerts", Category: "ACCOUNT", Importance: "HIGH"},
				"vivo":   {Category: "MARKETING", Classification: &zero},
			},
			"silent": {
				"hms":    {PushType: "passthrough"},
				"xiaomi": {PushType: "passthrough"},
				"oppo":   {Importance: "LOW"},
				"vivo":   {Category: "ACCOUNT"},
			},
		}
	})
	creds := h.sim().Credentials()
	tok := h.vndBindPhones("bob")
	payload := `{"conv":"alice","n":1}`

	// 1: every push_config field, high priority, the provider defaults (IM).
	m1 := h.send("alice", "bob", "hello bob", pushCfg{"title": "Alice", "content": "hello bob", "payload": payload, "badge_increment": 2},
		map[string]any{"priority": 3})["message_id"].(string)
	rec1 := map[push.Provider]vendorsim.Record{}
	for _, p := range androidVendors {
		r := h.records(p, tok[p], 1)[0]
		if !r.Delivered(tok[p]) {
			t.Fatalf("%s: first push not delivered: %d %s", p, r.Status, r.Reason)
		}
		rec1[p] = r
	}
	// 2: low priority, the "alert" profile.
	m2 := h.send("alice", "bob", "alert", pushCfg{"title": "Alice", "content": "alert!", "resources_id": "alert"},
		map[string]any{"priority": 1})["message_id"].(string)
	rec2 := map[push.Provider]vendorsim.Record{}
	for _, p := range androidVendors {
		rec2[p] = h.records(p, tok[p], 2)[1]
	}
	// 3: the "silent" profile: a pass-through (data) message where the vendor has one.
	m3 := h.send("alice", "bob", "silent", pushCfg{"title": "Alice", "content": "psst", "payload": payload, "resources_id": "silent"})["message_id"].(string)
	rec3 := map[push.Provider]vendorsim.Record{}
	for _, p := range androidVendors {
		rec3[p] = h.records(p, tok[p], 3)[2]
	}
	for _, p := range androidVendors {
		for i, r := range []vendorsim.Record{rec2[p], rec3[p]} {
			if !r.Delivered(tok[p]) {
				t.Errorf("%s: push %d not delivered: %d %s", p, i+2, r.Status, r.Reason)
			}
		}
	}

	t.Run("hms", func(t *testing.T) {
		r := rec1[push.HMS]
		if want := "/v1/" + creds.HMS.ClientID + "/messages:send"; r.Path != want {
			t.Errorf("path %q, want %q", r.Path, want)
		}
		b := jsonBody(t, r)
		if b["validate_only"] != false || fmt.Sprint(dig(b, "message", "token")) != fmt.Sprint([]any{tok[push.HMS]}) {
			t.Errorf("validate_only/token: %v / %v", b["validate_only"], dig(b, "message", "token"))
		}
		a := dig(b, "message", "android").(map[string]any)
		n := a["notification"].(map[string]any)
		for k, want := range map[string]any{"title": "Alice", "body": "hello bob", "default_sound": true, "notify_id": float64(vndNotifyID(m1))} {
			if n[k] != want {
				t.Errorf("android.notification.%s = %v, want %v", k, n[k], want)
			}
		}
		if dig(n, "click_action", "type") != float64(3) || n["channel_id"] != nil || n["sound"] != nil {
			t.Errorf("android.notification = %v (click_action type 3; no channel or sound)", n)
		}
		// The user's badge, set absolutely with the app's configured class.
		if want := map[string]any{"set_num": 2.0, "class": "im.pushd.demo.MainActivity"}; fmt.Sprint(n["badge"]) != fmt.Sprint(want) {
			t.Errorf("android.notification.badge = %v, want %v", n["badge"], want)
		}
		if a["urgency"] != "HIGH" || a["category"] != "IM" || a["collapse_key"] != float64(-1) || a["bi_tag"] == nil || a["bi_tag"] == "" {
			t.Errorf("android = %v (urgency HIGH, category IM, collapse_key -1, bi_tag the push id)", a)
		}
		if s, _ := a["ttl"].(string); !strings.HasSuffix(s, "s") || !near24h(vndSeconds(s)) {
			t.Errorf("android.ttl = %v, want about 86400s", a["ttl"])
		}
		data := vndJSONString(t, dig(b, "message", "data"))
		for k, want := range map[string]string{"payload": payload, "message_id": m1, "sender": "alice", "stream": "inbox", "seq": "1"} {
			if data[k] != want {
				t.Errorf("data.%s = %v, want %q", k, data[k], want)
			}
		}
		if ct := r.Headers["content-type"]; !strings.HasPrefix(ct, "application/json") {
			t.Errorf("content-type %q", ct)
		}

		a2 := dig(jsonBody(t, rec2[push.HMS]), "message", "android").(map[string]any)
		n2 := a2["notification"].(map[string]any)
		if a2["urgency"] != "NORMAL" || a2["category"] != "WORK" || n2["sound"] != "ring.ogg" || n2["default_sound"] != nil ||
			n2["channel_id"] != "chat-alerts" || n2["importance"] != "LOW" || n2["notify_id"] != float64(vndNotifyID(m2)) {
			t.Errorf("alert profile: android = %v", a2)
		}

		b3 := jsonBody(t, rec3[push.HMS])
		if dig(b3, "message", "android", "notification") != nil {
			t.Errorf("passthrough profile: a notification was sent: %v", dig(b3, "message", "android"))
		}
		d3 := vndJSONString(t, dig(b3, "message", "data"))
		if d3["title"] != "Alice" || d3["body"] != "psst" || d3["payload"] != payload || d3["message_id"] != m3 {
			t.Errorf("passthrough profile: data = %v", d3)
		}
	})

	t.Run("xiaomi", func(t *testing.T) {
		r := rec1[push.Xiaomi]
		if r.Path != "/v3/message/regid" || r.Headers["authorization"] != "key="+creds.Xiaomi.AppSecret {
			t.Errorf("path %q, authorization %q", r.Path, r.Headers["authorization"])
		}
		f := vndForm(t, r)
		for k, want := range map[string]string{
			"registration_id": tok[push.Xiaomi], "restricted_package_name": creds.Xiaomi.PackageName,
			"title": "Alice", "description": "hello bob", "payload": payload, "pass_through": "0", "notify_type": "-1",
			"notify_id": strconv.Itoa(vndNotifyID(m1)), "extra.channel_id": vendorsim.XiaomiPrivateChannelID, "extra.badge": "2",
			"extra.message_id": m1, "extra.sender": "alice", "extra.stream": "inbox", "extra.seq": "1",
		} {
			if got := f.Get(k); got != want {
				t.Errorf("%s = %q, want %q", k, got, want)
			}
		}
		if ms, err := strconv.Atoi(f.Get("time_to_live")); err != nil || !near24h((ms+999)/1000) {
			t.Errorf("time_to_live = %q ms, want about a day", f.Get("time_to_live"))
		}
		if f.Has("extra.sound_uri") {
			t.Errorf("extra.sound_uri = %q without a sound", f.Get("extra.sound_uri"))
		}

		f2 := vndForm(t, rec2[push.Xiaomi])
		if f2.Get("extra.channel_id") != "chat-alerts" || f2.Get("extra.sound_uri") != "android.resource://"+creds.Xiaomi.PackageName+"/raw/ring" ||
			f2.Get("notify_id") != strconv.Itoa(vndNotifyID(m2)) || f2.Has("extra.badge") {
			t.Errorf("alert profile: form = %v", f2)
		}

		f3 := vndForm(t, rec3[push.Xiaomi])
		if f3.Get("pass_through") != "1" || f3.Has("notify_type") || f3.Has("notify_id") || f3.Get("payload") != payload || f3.Get("extra.message_id") != m3 {
			t.Errorf("passthrough profile: form = %v", f3)
		}
	})

	t.Run("oppo", func(t *testing.T) {
		r := rec1[push.OPPO]
		if r.Path != "/server/v1/message/notification/unicast" || vndAccessToken(r) == "" {
			t.Errorf("path %q, auth_token %q", r.Path, vndAccessToken(r))
		}
		m := vndOPPOMessage(t, r)
		if m["target_type"] != float64(2) || m["target_value"] != tok[push.OPPO] {
			t.Errorf("target = %v/%v", m["target_type"], m["target_value"])
		}
		n := m["notification"].(map[string]any)
		for k, want := range map[string]any{"title": "Alice", "content": "hello bob", "click_action_type": float64(0), "off_line": true,
			"category": "IM", "notify_level": float64(2)} {
			if n[k] != want {
				t.Errorf("notification.%s = %v, want %v", k, n[k], want)
			}
		}
		if n["channel_id"] != nil {
			t.Errorf("notification.channel_id = %v without a channel", n["channel_id"])
		}
		if ttl := vndInt(n["off_line_ttl"]); !near24h(ttl) {
			t.Errorf("notification.off_line_ttl = %v, want about 86400", n["off_line_ttl"])
		}
		ap := vndJSONString(t, n["action_parameters"])
		for k, want := range map[string]string{"payload": payload, "message_id": m1, "sender": "alice", "stream": "inbox", "seq": "1"} {
			if ap[k] != want {
				t.Errorf("action_parameters.%s = %v, want %q", k, ap[k], want)
			}
		}
		sum := sha256.Sum256([]byte("demo\x00" + m1))
		if id, _ := n["app_message_id"].(string); !strings.HasSuffix(id, "-"+hex.EncodeToString(sum[:4])) {
			t.Errorf("notification.app_message_id = %q, want <push id>-<hash of the collapse id>", id)
		}

		n2 := vndOPPOMessage(t, rec2[push.OPPO])["notification"].(map[string]any)
		if n2["channel_id"] != "chat-alerts" || n2["category"] != "ACCOUNT" || n2["notify_level"] != float64(16) {
			t.Errorf("alert profile: notification = %v", n2)
		}
		n3 := vndOPPOMessage(t, rec3[push.OPPO])["notification"].(map[string]any)
		if n3["notify_level"] != float64(1) || n3["category"] != "IM" {
			t.Errorf("silent profile (importance LOW): notification = %v", n3)
		}
	})

	t.Run("vivo", func(t *testing.T) {
		r := rec1[push.Vivo]
		if r.Path != "/message/send" || vndAccessToken(r) == "" {
			t.Errorf("path %q, authToken %q", r.Path, vndAccessToken(r))
		}
		b := jsonBody(t, r)
		for k, want := range map[string]any{"appId": float64(creds.Vivo.AppID), "regId": tok[push.Vivo], "title": "Alice", "content": "hello bob",
			"notifyType": float64(4), "skipType": float64(1), "networkType": float64(-1), "classification": float64(1), "category": "IM", "pushMode": float64(0)} {
			if b[k] != want {
				t.Errorf("%s = %v, want %v", k, b[k], want)
			}
		}
		if !near24h(vndInt(b["timeToLive"])) {
			t.Errorf("timeToLive = %v, want about 86400", b["timeToLive"])
		}
		if id, _ := b["requestId"].(string); id == "" {
			t.Error("no requestId")
		}
		cm, _ := b["clientCustomMap"].(map[string]any)
		for k, want := range map[string]string{"payload": payload, "message_id": m1, "sender": "alice", "stream": "inbox", "seq": "1"} {
			if cm[k] != want {
				t.Errorf("clientCustomMap.%s = %v, want %q", k, cm[k], want)
			}
		}
		b2 := jsonBody(t, rec2[push.Vivo])
		if b2["classification"] != float64(0) || b2["category"] != "MARKETING" || b2["notifyType"] != float64(1) {
			t.Errorf("alert profile, low priority: %v", b2)
		}
		b3 := jsonBody(t, rec3[push.Vivo])
		if b3["classification"] != float64(1) || b3["category"] != "ACCOUNT" {
			t.Errorf("silent profile: %v", b3)
		}
		if id1, id2 := b["requestId"], b2["requestId"]; id1 == id2 {
			t.Errorf("two pushes share requestId %v", id1)
		}
	})

	// An unknown resources_id is refused at send time, naming the field; nothing is stored or pushed.
	st, out := h.vndSendRaw(map[string]any{"from": "alice", "to": "bob", "conversation_type": 0, "type": 1, "body": "x",
		"push_config": map[string]any{"title": "t", "content": "c", "resources_id": "no-such-profile"}})
	msg, _ := dig(out, "error", "message").(string)
	if st != http.StatusBadRequest || dig(out, "error", "code") != "bad_request" || !strings.Contains(msg, "push_config.resources_id") || !strings.Contains(msg, "no-such-profile") {
		t.Fatalf("unknown resources_id: %d %v, want 400 naming push_config.resources_id", st, out)
	}
	bo := h.mustCall("POST", "/v1/messages/batch", "key", map[string]any{"messages": []any{
		map[string]any{"from": "alice", "to": "bob", "conversation_type": 0, "type": 1, "body": "bad", "push_config": map[string]any{"title": "t", "content": "c", "resources_id": "nope"}},
		map[string]any{"from": "alice", "to": "bob", "conversation_type": 0, "type": 1, "body": "good", "push_config": map[string]any{"title": "t", "content": "c", "resources_id": "alert"}},
	}})
	res, _ := bo["results"].([]any)
	if len(res) != 2 || dig(res[0].(map[string]any), "error", "code") != "bad_request" || res[1].(map[string]any)["seq"] != float64(4) {
		t.Fatalf("batch with an unknown resources_id: %v, want item 0 refused and item 1 stored as seq 4", bo)
	}
	for _, p := range androidVendors {
		h.records(p, tok[p], 4)
	}
	h.eventually("outbox empty", func() bool { return h.outboxLen() == 0 })
	for _, p := range androidVendors {
		if n := h.countRecords(p, tok[p]); n != 4 {
			t.Errorf("%s: %d pushes, want 4", p, n)
		}
		h.vndWaitVerdict("bob", string(p)+"-phone", "delivered")
	}
}

// TestVendorsAuthTokenFetchedOnceReusedRefreshed checks the vendor access
// tokens: concurrent pushes share one token fetch; a token the vendor calls
// expired is refreshed once and the push retried; a token near its end of life
// is replaced before it is used again. Xiaomi has no token: its static key goes
// on every request.
func TestVendorsAuthTokenFetchedOnceReusedRefreshed(t *testing.T) {
	h := startVendorDaemon(t, nil)
	creds := h.sim().Credentials()
	tok := h.vndBindPhones("bob")
	// Six messages in one batch call: six concurrent pushes per vendor, each its own request.
	var msgs []any
	for i := 0; i < 6; i++ {
		msgs = append(msgs, map[string]any{"from": "alice", "to": "bob", "conversation_type": 0, "type": 1, "body": fmt.Sprint("m", i),
			"push_config": map[string]any{"title": "Alice", "content": fmt.Sprint("m", i)}})
	}
	h.mustCall("POST", "/v1/messages/batch", "key", map[string]any{"messages": msgs})
	first := map[push.Provider]string{}
	for _, p := range androidVendors {
		rs := h.records(p, tok[p], 6)
		used := map[string]bool{}
		for _, r := range rs {
			if !r.Delivered(tok[p]) {
				t.Fatalf("%s: push refused: %d %s", p, r.Status, r.Reason)
			}
			used[vndAccessToken(r)] = true
		}
		if len(used) != 1 {
			t.Fatalf("%s: six concurrent pushes used %d different credentials, want 1 (fetched once, reused)", p, len(used))
		}
		first[p] = vndAccessToken(rs[0])
	}
	if first[push.Xiaomi] != creds.Xiaomi.AppSecret {
		t.Fatalf("xiaomi authorization key = %q, want the app secret", first[push.Xiaomi])
	}
	h.eventually("outbox empty", func() bool { return h.outboxLen() == 0 })

	// The vendor says the token expired: the push is refused once, the token
	// refreshed and the push sent again, delivered exactly once.
	h.sim().ExpireAccessTokens()
	h.send("alice", "bob", "after expiry", pushCfg{"title": "Alice", "content": "after expiry"})
	second := map[push.Provider]string{}
	expired := map[push.Provider]string{push.HMS: "80200003", push.OPPO: "11", push.Vivo: "10000"}
	for _, p := range []push.Provider{push.HMS, push.OPPO, push.Vivo} {
		rs := h.records(p, tok[p], 8)
		refused, again := rs[6], rs[7]
		if refused.Delivered(tok[p]) || refused.Reason != expired[p] || vndAccessToken(refused) != first[p] {
			t.Errorf("%s: push after expiry: %d %s with %q, want refused (%s) with the old token", p, refused.Status, refused.Reason, vndAccessToken(refused), expired[p])
		}
		if !again.Delivered(tok[p]) || vndAccessToken(again) == first[p] || vndAccessToken(again) == "" {
			t.Errorf("%s: retry: %d %s, want delivered with a new token", p, again.Status, again.Reason)
		}
		second[p] = vndAccessToken(again)
	}
	if rs := h.records(push.Xiaomi, tok[push.Xiaomi], 7); !rs[6].Delivered(tok[push.Xiaomi]) || vndAccessToken(rs[6]) != creds.Xiaomi.AppSecret {
		t.Errorf("xiaomi after expiry: %d %s", rs[6].Status, rs[6].Reason)
	}
	h.eventually("outbox empty", func() bool { return h.outboxLen() == 0 })

	// 23.5 hours on: every token is past its client's renewal time (Huawei 1 h
	// tokens, vivo's hourly refresh, OPPO's 24 h tokens an hour early), so the
	// next push goes with a fresh one and is never refused.
	h.clock.Advance(23*time.Hour + 30*time.Minute)
	h.send("alice", "bob", "a day later", pushCfg{"title": "Alice", "content": "a day later"})
	for _, p := range []push.Provider{push.HMS, push.OPPO, push.Vivo} {
		r := h.records(p, tok[p], 9)[8]
		if !r.Delivered(tok[p]) || vndAccessToken(r) == second[p] {
			t.Errorf("%s: a day later: %d %s, token renewed %v; want delivered with a new token", p, r.Status, r.Reason, vndAccessToken(r) != second[p])
		}
	}
	h.records(push.Xiaomi, tok[push.Xiaomi], 8)
	h.eventually("outbox empty", func() bool { return h.outboxLen() == 0 })
	want := map[push.Provider]int{push.HMS: 9, push.OPPO: 9, push.Vivo: 9, push.Xiaomi: 8}
	for _, p := range androidVendors {
		if n := h.countRecords(p, tok[p]); n != want[p] {
			t.Errorf("%s: %d requests, want %d", p, n, want[p])
		}
		if n := h.vndDeliveredTo(p, tok[p]); n != 8 {
			t.Errorf("%s: %d delivered, want 8", p, n)
		}
	}
}

// TestVendorsInvalidTokensUnbound checks that a token the vendor calls invalid
// is unbound, alone and inside a batch answer (where the others are delivered).
func TestVendorsInvalidTokensUnbound(t *testing.T) {
	h := startVendorDaemon(t, nil)
	var bs []binding
	for _, p := range androidVendors {
		solo, trio := "solo-"+string(p), "trio-"+string(p)
		bs = append(bs,
			binding{solo, "phone", p, "invalid-" + vndTok(p, solo, "phone"), nil},
			binding{trio, "a", p, vndTok(p, trio, "a"), nil},
			binding{trio, "b", p, "invalid-" + vndTok(p, trio, "b"), nil},
			binding{trio, "c", p, vndTok(p, trio, "c"), nil},
		)
	}
	h.bindAll(bs)
	for _, p := range androidVendors {
		h.send("alice", "solo-"+string(p), "hi", pushCfg{"title": "Alice", "content": "hi"})
		h.send("alice", "trio-"+string(p), "hi", pushCfg{"title": "Alice", "content": "hi"})
	}
	for _, p := range androidVendors {
		solo, trio := "solo-"+string(p), "trio-"+string(p)
		dead, a, b, c := "invalid-"+vndTok(p, solo, "phone"), vndTok(p, trio, "a"), "invalid-"+vndTok(p, trio, "b"), vndTok(p, trio, "c")
		h.eventually(string(p)+" single invalid token unbound", func() bool { return len(h.devices(solo)) == 0 })
		h.eventually(string(p)+" batch: invalid token unbound, the others delivered", func() bool {
			devs := h.devices(trio)
			if len(devs) != 2 {
				return false
			}
			for _, d := range devs {
				if d["last_verdict"] != "delivered" {
					return false
				}
			}
			return true
		})
		if rs := h.vndTargets(p, dead); len(rs) != 1 || rs[0].Delivered(dead) || !slices.Equal(rs[0].InvalidTokens, []string{dead}) {
			t.Errorf("%s: single invalid token: %s", p, vndSummary(rs))
		}
		rs := h.vndTargets(p, a)
		if len(rs) != 1 || len(rs[0].Tokens) != 3 || !slices.Equal(rs[0].InvalidTokens, []string{b}) || !rs[0].Delivered(a) || !rs[0].Delivered(c) {
			t.Errorf("%s: batch with one invalid token: %s; want one request for a, b, c rejecting b", p, vndSummary(rs))
		}
	}
	h.eventually("pushd_bindings_removed_total{reason=token_invalid} == 8", func() bool {
		return h.vndMetric("pushd_bindings_removed_total", "reason", "token_invalid") == 8
	})
	// The next message goes to the two live tokens only, in one request.
	for _, p := range androidVendors {
		h.send("alice", "trio-"+string(p), "again", pushCfg{"title": "Alice", "content": "again"})
	}
	for _, p := range androidVendors {
		trio := "trio-" + string(p)
		a := vndTok(p, trio, "a")
		rs := h.vndWaitRecords("the second batch", p, func(rs []vendorsim.Record) bool { return len(vndWith(rs, a)) == 2 })
		second := vndWith(rs, a)[1]
		if len(second.Tokens) != 2 || !second.Delivered(vndTok(p, trio, "a")) || !second.Delivered(vndTok(p, trio, "c")) {
			t.Errorf("%s: second batch %s; all records: %s", p, vndSummary([]vendorsim.Record{second}), vndSummary(rs))
		}
	}
	h.eventually("outbox empty", func() bool { return h.outboxLen() == 0 })
}

// TestVendorsRetryOnFlowControlUntilDelivered has each vendor answer its flow
// control (or "too fast") twice: the push is retried with backoff until it is
// delivered, once.
func TestVendorsRetryOnFlowControlUntilDelivered(t *testing.T) {
	h := startVendorDaemon(t, nil)
	tok := h.vndBindPhones("bob")
	faults := map[push.Provider]vendorsim.Fault{
		push.HMS:    {Status: http.StatusServiceUnavailable},               // Huawei's flow control: HTTP 503
		push.Xiaomi: {Status: http.StatusTooManyRequests, Reason: "10003"}, // MiPush "too many requests"
		push.OPPO:   {Status: http.StatusTooManyRequests, Reason: "-2"},    // OPPO -2 "Service in Flow Control"
		push.Vivo:   {Status: http.StatusTooManyRequests, Reason: "10072"}, // vivo "rate too high"
	}
	for p, f := range faults {
		f.Provider, f.Token, f.Times = p, tok[p], 2
		must(t, h.sim().SetFault(f))
	}
	h.send("alice", "bob", "hi", pushCfg{"title": "Alice", "content": "hi"})
	for _, p := range androidVendors {
		rs := h.records(p, tok[p], 3)
		if rs[0].Delivered(tok[p]) || rs[1].Delivered(tok[p]) || !rs[2].Delivered(tok[p]) {
			t.Errorf("%s: %s; want two refusals, then delivered", p, vndSummary(rs))
		}
		if gap := rs[1].At.Sub(rs[0].At); gap < 300*time.Millisecond {
			t.Errorf("%s: retried after %v, want a backoff of about 500 ms", p, gap)
		}
	}
	h.eventually("outbox empty", func() bool { return h.outboxLen() == 0 })
	for _, p := range androidVendors {
		if n := h.countRecords(p, tok[p]); n != 3 {
			t.Errorf("%s: %d requests, want 3", p, n)
		}
		h.vndWaitVerdict("bob", string(p)+"-phone", "delivered")
		if n := h.vndMetric("pushd_push_retries_total", "provider", string(p)); n != 2 {
			t.Errorf("%s: pushd_push_retries_total = %v, want 2", p, n)
		}
	}
}

// vndPromo is the resources profile that puts a push in each vendor's public
// (quota-counted) class: a marketing category, a non-private Xiaomi channel,
// vivo's operations classification.
func vndPromo(a *config.App) {
	zero := 0
	a.Resources = map[string]map[string]config.Resource{"promo": {
		"hms":    {Category: "MARKETING"},
		"xiaomi": {ChannelID: "pushd-promo"},
		"oppo":   {Category: "MARKETING"},
		"vivo":   {Category: "MARKETING", Classification: &zero},
	}}
}

// vndToNoon moves the clock to the next 12:00 China time, so that the quota
// day turns in 12 hours, well within the pushes' 24-hour life.
func (h *harness) vndToNoon() {
	h.clock.Advance(vndNextChinaTime(h.clock.Now(), 12))
}

// vndToNextVendorDay moves the clock just past the next midnight China time.
func (h *harness) vndToNextVendorDay() {
	h.clock.Advance(vndNextChinaTime(h.clock.Now(), 0) + time.Minute)
}

// TestVendorsLocalDailyQuotaHoldsUntilNextDay gives every vendor a daily quota
// of 2 in rate_limits: the third and fourth public pushes are held without a
// request (the binding shows quota_exhausted, the metrics count them), IM
// pushes still go, a restart holds them again (the count is persisted), and
// the next vendor day sends them.
func TestVendorsLocalDailyQuotaHoldsUntilNextDay(t *testing.T) {
	h := startVendorDaemon(t, func(a *config.App) {
		vndPromo(a)
		a.RateLimits = map[string]config.RateLimit{}
		for _, p := range androidVendors {
			a.RateLimits[string(p)] = config.RateLimit{DailyQuota: 2}
		}
	})
	h.vndToNoon()
	tok := h.vndBindPhones("bob")
	h.vndPromosWithinQuota(tok)
	h.vndPromo(3)
	h.vndPromo(4)
	for _, p := range androidVendors {
		h.eventually(string(p)+" holds two pushes", func() bool { return h.vndMetric("pushd_pushes_held", "provider", string(p)) == 2 })
		d := h.vndWaitVerdict("bob", string(p)+"-phone", "quota_exhausted")
		if r, _ := d["last_reason"].(string); !strings.Contains(r, "daily quota") || !strings.Contains(r, "held until") {
			t.Errorf("%s: last_reason %q", p, r)
		}
		if n := h.vndMetric("pushd_vendor_quota_exhausted_total", "provider", string(p), "class", "public"); n != 1 {
			t.Errorf("%s: pushd_vendor_quota_exhausted_total{class=public} = %v, want 1", p, n)
		}
		if n := h.countRecords(p, tok[p]); n != 2 {
			t.Errorf("%s: %d requests with the quota used up, want 2", p, n)
		}
	}
	h.eventually("the outbox holds the 8 held pushes", func() bool { return h.outboxLen() == 8 })
	// IM pushes are not counted: they go while the public ones wait.
	h.send("alice", "bob", "chat", pushCfg{"title": "Alice", "content": "chat"})
	for _, p := range androidVendors {
		if r := h.records(p, tok[p], 3)[2]; !r.Delivered(tok[p]) || !strings.Contains(string(r.Body), "chat") {
			t.Errorf("%s: IM push during the hold: %d %s %s", p, r.Status, r.Reason, r.Body)
		}
	}
	h.eventually("only the held pushes left", func() bool { return h.outboxLen() == 8 })

	// A restart finds them in the outbox and holds them again: the day's count was persisted.
	h.vndRestart()
	for _, p := range androidVendors {
		h.eventually(string(p)+" holds two pushes after the restart", func() bool { return h.vndMetric("pushd_pushes_held", "provider", string(p)) == 2 })
		if n := len(h.sim().Records(p)); n != 0 {
			t.Errorf("%s: %d requests after the restart, want none", p, n)
		}
	}
	if n := h.outboxLen(); n != 8 {
		t.Fatalf("outbox holds %d pushes after the restart, want 8", n)
	}

	h.vndToNextVendorDay()
	for _, p := range androidVendors {
		rs := h.records(p, tok[p], 2)
		for _, r := range rs {
			if !r.Delivered(tok[p]) {
				t.Errorf("%s: held push sent the next day: %d %s", p, r.Status, r.Reason)
			}
		}
	}
	h.eventually("outbox empty", func() bool { return h.outboxLen() == 0 })
	for _, p := range androidVendors {
		if n := h.countRecords(p, tok[p]); n != 2 {
			t.Errorf("%s: %d requests the next day, want 2", p, n)
		}
		if n := h.vndMetric("pushd_pushes_held", "provider", string(p)); n != 0 {
			t.Errorf("%s: pushd_pushes_held = %v after the day turned, want 0", p, n)
		}
		h.vndWaitVerdict("bob", string(p)+"-phone", "delivered")
	}
}

// TestVendorsQuotaHoldsGroupPushesAsTheirOwnJobs: a public group message to
// four members with Xiaomi bindings, under a daily quota of 2. The fan-out's
// pushes are one outbox chunk; two are sent and two are held, each written
// as a job of its own, and the chunk goes. A restart holds the two again
// (and sends nothing); the next vendor day sends them, one push per member in all.
func TestVendorsQuotaHoldsGroupPushesAsTheirOwnJobs(t *testing.T) {
	h := startVendorDaemon(t, func(a *config.App) {
		vndPromo(a)
		a.RateLimits = map[string]config.RateLimit{"xiaomi": {DailyQuota: 2}}
	})
	h.vndToNoon()
	members := []string{"shop"}
	var bs []binding
	for _, u := range []string{"m1", "m2", "m3", "m4"} {
		members = append(members, u)
		bs = append(bs, binding{u, "phone", push.Xiaomi, vndTok(push.Xiaomi, u, "phone"), nil})
	}
	h.bindAll(bs)
	h.putGroup("fans", members)
	h.sendGroup("shop", "fans", "sale", pushCfg{"title": "Shop", "content": "sale", "resources_id": "promo"})
	h.eventually("two pushes sent, two held as jobs of their own, no chunk left", func() bool {
		jobs, chunked, chunks := h.outbox()
		return jobs == 2 && chunked == 0 && chunks == 0 && h.vndMetric("pushd_pushes_held", "provider", "xiaomi") == 2
	})
	delivered := map[string]int{}
	count := func() {
		for _, r := range h.sim().Records(push.Xiaomi) {
			for _, tok := range r.Tokens {
				if r.Delivered(tok) {
					delivered[tok]++
				}
			}
		}
	}
	count()

	h.vndRestart()
	h.eventually("the two held again after the restart", func() bool { return h.vndMetric("pushd_pushes_held", "provider", "xiaomi") == 2 })
	if n := len(h.sim().Records(push.Xiaomi)); n != 0 {
		t.Errorf("%d Xiaomi requests after the restart, want none (the quota is used up)", n)
	}
	h.vndToNextVendorDay()
	h.eventually("outbox empty", func() bool { return h.outboxLen() == 0 })
	count()
	for _, u := range []string{"m1", "m2", "m3", "m4"} {
		if n := delivered[vndTok(push.Xiaomi, u, "phone")]; n != 1 {
			t.Errorf("%s pushed %d times, want once", u, n)
		}
	}
}

// TestVendorsVendorDailyQuotaHoldsUntilNextDay has the simulated vendors
// refuse public pushes past 2 a day. Xiaomi (200001), OPPO (33) and vivo
// (10070) say "daily quota": the class is held without more requests until
// the next vendor day. Huawei answers its quota with HTTP 503 flow control and
// a Retry-After up to midnight: those pushes wait for it as retries.
func TestVendorsVendorDailyQuotaHoldsUntilNextDay(t *testing.T) {
	h := startVendorDaemon(t, vndPromo)
	h.vndToNoon()
	sim := h.sim()
	sim.SetDailyQuota(push.HMS, 2)
	sim.SetDailyQuota(push.Xiaomi, 2)
	sim.SetDailyQuota(push.OPPO, 2)
	sim.SetDailyQuota(push.Vivo, 2)
	tok := h.vndBindPhones("bob")
	h.vndPromosWithinQuota(tok)
	h.vndPromo(3)
	held := []push.Provider{push.Xiaomi, push.OPPO, push.Vivo}
	wantReason := map[push.Provider]string{push.Xiaomi: "200001", push.OPPO: "33", push.Vivo: "10070"}
	for _, p := range held {
		d := h.vndWaitVerdict("bob", string(p)+"-phone", "quota_exhausted")
		if r, _ := d["last_reason"].(string); !strings.Contains(r, wantReason[p]) {
			t.Errorf("%s: last_reason %q, want the vendor's %s", p, r, wantReason[p])
		}
	}
	h.vndPromo(4)
	for _, p := range held {
		h.eventually(string(p)+" holds two pushes", func() bool { return h.vndMetric("pushd_pushes_held", "provider", string(p)) == 2 })
		rs := h.sim().Records(p)
		if len(rs) != 3 || rs[2].Delivered("") || rs[2].Reason != wantReason[p] {
			t.Errorf("%s: requests %s; want 2 delivered and 1 refused with %s, none after", p, vndSummary(rs), wantReason[p])
		}
		if n := h.vndMetric("pushd_vendor_quota_exhausted_total", "provider", string(p), "class", "public"); n != 1 {
			t.Errorf("%s: pushd_vendor_quota_exhausted_total{class=public} = %v, want 1", p, n)
		}
	}
	// Huawei: both pushes were refused with 503 and wait for the Retry-After.
	hms := h.vndWaitRecords("two refused pushes", push.HMS, func(rs []vendorsim.Record) bool { return len(rs) == 4 })
	for _, r := range hms[2:] {
		if r.Status != http.StatusServiceUnavailable {
			t.Errorf("hms: over the quota: %d %s, want 503", r.Status, r.Reason)
		}
	}
	d := h.vndWaitVerdict("bob", "hms-phone", "retry")
	if r, _ := d["last_reason"].(string); !strings.Contains(r, "503") {
		t.Errorf("hms: last_reason %q", r)
	}

	// IM pushes are not capped: they go while the public ones wait.
	h.send("alice", "bob", "chat", pushCfg{"title": "Alice", "content": "chat"})
	for _, p := range androidVendors {
		n := 4
		if p == push.HMS {
			n = 5
		}
		rs := h.vndWaitRecords("the IM push", p, func(rs []vendorsim.Record) bool { return len(rs) >= n })
		if last := rs[n-1]; !last.Delivered(tok[p]) || !strings.Contains(string(last.Body), "chat") {
			t.Errorf("%s: IM push during the hold: %s", p, vndSummary(rs))
		}
	}
	h.eventually("only the held pushes left", func() bool { return h.outboxLen() == 8 })
	if n := len(h.sim().Records(push.HMS)); n != 5 {
		t.Errorf("hms: %d requests before the day turned, want 5", n)
	}

	h.vndToNextVendorDay()
	for _, p := range androidVendors {
		before := 4
		if p == push.HMS {
			before = 5
		}
		rs := h.vndWaitRecords("the held pushes", p, func(rs []vendorsim.Record) bool {
			n := 0
			for _, r := range rs[before:] {
				if r.Delivered(tok[p]) {
					n++
				}
			}
			return n == 2
		})
		if len(rs) != before+2 {
			t.Errorf("%s: the next day: %s; want exactly the two held pushes", p, vndSummary(rs[before:]))
		}
	}
	h.eventually("outbox empty", func() bool { return h.outboxLen() == 0 })
	for _, p := range androidVendors {
		h.vndWaitVerdict("bob", string(p)+"-phone", "delivered")
		if n := h.vndDeliveredTo(p, tok[p]); n != 5 {
			t.Errorf("%s: %d delivered, want 5", p, n)
		}
		if n := h.vndMetric("pushd_pushes_held", "provider", string(p)); n != 0 {
			t.Errorf("%s: pushd_pushes_held = %v, want 0", p, n)
		}
	}
}

// TestVendorsBatchOneRequest checks batching: a message to a user with ten
// devices of a vendor is one request with ten tokens, and a group message to
// 1,000 members with one device of each vendor is one request with 1,000
// tokens per vendor (vivo: one saveListPayload and one pushToList).
func TestVendorsBatchOneRequest(t *testing.T) {
	h := startVendorDaemon(t, nil)
	const members = 1000
	var bs []binding
	for _, p := range androidVendors {
		for d := 0; d < 10; d++ {
			u := "ten-" + string(p)
			bs = append(bs, binding{u, fmt.Sprint("d", d), p, vndTok(p, u, fmt.Sprint("d", d)), nil})
		}
	}
	var group []string
	for i := 0; i < members; i++ {
		u := fmt.Sprintf("m%04d", i)
		group = append(group, u)
		for _, p := range androidVendors {
			bs = append(bs, binding{u, string(p) + "-phone", p, vndTok(p, u, "phone"), nil})
		}
	}
	h.bindAll(bs)

	for _, p := range androidVendors {
		h.send("alice", "ten-"+string(p), "to ten devices", pushCfg{"title": "Alice", "content": "ten"})
	}
	for _, p := range androidVendors {
		u := "ten-" + string(p)
		h.eventually(string(p)+" ten pushes delivered", func() bool { return h.sim().Count(p) >= 10 })
		rs := h.sim().Records(p)
		var targeted []vendorsim.Record
		for _, r := range rs {
			if len(r.Tokens) > 0 {
				targeted = append(targeted, r)
			}
		}
		if len(targeted) != 1 || len(targeted[0].Tokens) != 10 {
			t.Fatalf("%s: a message to 10 devices made %s; want one request with 10 tokens", p, vndSummary(rs))
		}
		for d := 0; d < 10; d++ {
			if !targeted[0].Delivered(vndTok(p, u, fmt.Sprint("d", d))) {
				t.Errorf("%s: device d%d not delivered", p, d)
			}
		}
	}
	h.eventually("outbox empty", func() bool { return h.outboxLen() == 0 })
	h.sim().Reset()

	// The group fans out in chunks of 1,000 members (in id order): the sender
	// sorts last, so the first chunk is the 1,000 receivers.
	h.mustCall("PUT", "/v1/groups/all-hands", "key", map[string]any{"members": append(slices.Clone(group), "zz-boss")})
	ans := h.send("zz-boss", "all-hands", "hello everyone", pushCfg{"title": "Boss", "content": "hello everyone"}, map[string]any{"conversation_type": 2})
	msgID, _ := ans["message_id"].(string)
	for _, p := range androidVendors {
		h.eventually(fmt.Sprint(p, " delivers ", members, " group pushes"), func() bool { return h.sim().Count(p) >= members })
	}
	h.eventually("outbox empty", func() bool { return h.outboxLen() == 0 })
	for _, p := range androidVendors {
		rs := h.sim().Records(p)
		var targeted []vendorsim.Record
		for _, r := range rs {
			if len(r.Tokens) > 0 {
				targeted = append(targeted, r)
			}
		}
		if len(targeted) != 1 || len(targeted[0].Tokens) != members || !targeted[0].Delivered("") || len(targeted[0].InvalidTokens) != 0 {
			t.Errorf("%s: the group message made %s; want one request with %d tokens", p, vndSummary(rs), members)
			continue
		}
		if p == push.Vivo && (len(rs) != 2 || rs[0].Path != "/message/saveListPayload" || rs[1].Path != "/message/pushToList") {
			t.Errorf("vivo: %s; want saveListPayload then one pushToList", vndSummary(rs))
		}
		if p != push.Vivo && len(rs) != 1 {
			t.Errorf("%s: %d requests, want 1", p, len(rs))
		}
		got := slices.Clone(targeted[0].Tokens)
		sort.Strings(got)
		for i, u := range group {
			if got[i] != vndTok(p, u, "phone") {
				t.Errorf("%s: token %d is %q, want %q", p, i, got[i], vndTok(p, u, "phone"))
				break
			}
		}
		if n := h.sim().Count(p); n != members {
			t.Errorf("%s: %d delivered, want %d", p, n, members)
		}
	}
	// The batch carries the group message.
	hms := h.sim().Records(push.HMS)
	if len(hms) == 0 {
		t.Fatal("hms: no request for the group message")
	}
	if d := vndJSONString(t, dig(jsonBody(t, hms[len(hms)-1]), "message", "data")); d["message_id"] != msgID || d["stream"] != "group:all-hands" {
		t.Errorf("hms group push data = %v, want message %s on stream group:all-hands", d, msgID)
	}
}

// TestVendorsQPSLimitUnderBurst gives every vendor qps 20 in rate_limits and
// sends a burst of 40 pushes each: at the simulator, no one-second window holds
// more than the rate plus the limiter's burst (2), and the burst is spread
// over about two seconds.
func TestVendorsQPSLimitUnderBurst(t *testing.T) {
	const qps, n = 20, 40
	h := startVendorDaemon(t, func(a *config.App) {
		a.RateLimits = map[string]config.RateLimit{}
		for _, p := range androidVendors {
			a.RateLimits[string(p)] = config.RateLimit{QPS: qps}
		}
	})
	tok := h.vndBindPhones("bob")
	// One push first, so that the burst finds the connections open and the
	// access tokens fetched: requests held up behind a first token fetch would
	// all go together once it is done.
	h.send("alice", "bob", "warm up", pushCfg{"title": "Alice", "content": "warm up"})
	for _, p := range androidVendors {
		h.records(p, tok[p], 1)
	}
	h.sim().Reset()
	var msgs []any
	for i := 0; i < n; i++ {
		msgs = append(msgs, map[string]any{"from": "alice", "to": "bob", "conversation_type": 0, "type": 1, "body": fmt.Sprint("burst ", i),
			"push_config": map[string]any{"title": "Alice", "content": fmt.Sprint("burst ", i)}})
	}
	h.mustCall("POST", "/v1/messages/batch", "key", map[string]any{"messages": msgs})
	for _, p := range androidVendors {
		rs := h.records(p, tok[p], n)
		var at []time.Time
		for _, r := range rs {
			if !r.Delivered(tok[p]) {
				t.Errorf("%s: %d %s", p, r.Status, r.Reason)
			}
			at = append(at, r.At)
		}
		most := mostInOneSecond(at)
		// The limiter lets qps a second plus a burst of qps/10 through. Requests
		// delayed between the limiter and the simulator (a loaded CI machine
		// can stall for a few hundred ms) may bunch into one window, so allow
		// half a second's worth on top; unlimited, all 40 would land at once.
		if limit := qps + qps/10 + qps/2; most > limit {
			t.Errorf("%s: %d requests within one second, want at most %d", p, most, limit)
		}
		if span, least := at[len(at)-1].Sub(at[0]), time.Duration(n-qps/10-1)*time.Second/qps-100*time.Millisecond; span < least {
			t.Errorf("%s: %d requests within %v, want them spread over at least %v", p, n, span, least)
		}
		t.Logf("%s: %d requests over %v, at most %d in one second", p, n, at[len(at)-1].Sub(at[0]).Round(time.Millisecond), most)
	}
	h.eventually("outbox empty", func() bool { return h.outboxLen() == 0 })
	for _, p := range androidVendors {
		if c := h.countRecords(p, tok[p]); c != n {
			t.Errorf("%s: %d requests, want %d", p, c, n)
		}
	}
}

// TestVendorsPushTestEndpoint calls POST /v1/push/test for a binding of every
// provider: a dry run shows the request without sending it; a real one sends
// it and shows the exact request, credentials masked, and the verdict.
func TestVendorsPushTestEndpoint(t *testing.T) {
	h := startVendorDaemon(t, nil)
	creds := h.sim().Credentials()
	tokens := map[push.Provider]string{push.APNs: apnsToken(42), push.FCM: "fcm-tess-phone"}
	ids := map[push.Provider]string{}
	for _, p := range vendors.Providers() {
		if tokens[p] == "" {
			tokens[p] = vndTok(p, "tess", "phone")
		}
		ids[p] = h.bind("tess", string(p)+"-phone", p, tokens[p])
	}
	secrets := []string{creds.HMS.ClientSecret, creds.Xiaomi.AppSecret, creds.OPPO.MasterSecret, creds.Vivo.AppSecret}
	for _, p := range vendors.Providers() {
		t.Run(string(p), func(t *testing.T) {
			body := map[string]any{"push_id": ids[p], "title": "TestPush", "content": "hello-from-pushd", "payload": `{"k":"v"}`, "dry_run": true}
			st, dryRaw := h.vndRaw("POST", "/v1/push/test", body)
			var dry map[string]any
			if st != http.StatusOK || json.Unmarshal([]byte(dryRaw), &dry) != nil {
				t.Fatalf("dry run: %d %s", st, dryRaw)
			}
			if dry["provider"] != string(p) || dry["dry_run"] != true || dry["verdict"] != "" || dig(dry, "request", "method") != "POST" || dig(dry, "request", "status") != nil {
				t.Errorf("dry run answer %v", dry)
			}
			if u, _ := dig(dry, "request", "url").(string); !strings.HasPrefix(u, h.sim().Endpoint(p)) {
				t.Errorf("dry run url %q, want the simulator's %s endpoint", u, p)
			}
			if b, _ := dig(dry, "request", "body").(string); !strings.Contains(b, "hello-from-pushd") {
				t.Errorf("dry run body %q lacks the content", b)
			}
			if n := len(h.sim().Records(p)); n != 0 {
				t.Errorf("a dry run sent %d requests", n)
			}

			body["dry_run"] = false
			st, raw := h.vndRaw("POST", "/v1/push/test", body)
			var out map[string]any
			if st != http.StatusOK || json.Unmarshal([]byte(raw), &out) != nil {
				t.Fatalf("test push: %d %s", st, raw)
			}
			rs := h.sim().Records(p)
			var sent []vendorsim.Record
			for _, r := range rs {
				if len(r.Tokens) > 0 {
					sent = append(sent, r)
				}
			}
			if len(sent) != 1 || !sent[0].Delivered(tokens[p]) {
				t.Fatalf("test push made %s", vndSummary(rs))
			}
			r := sent[0]
			if out["verdict"] != "delivered" || out["status"] != float64(200) || out["push_id"] != ids[p] || dig(out, "request", "status") != float64(200) {
				t.Errorf("answer %v, want verdict delivered, status 200", out)
			}
			if a, _ := dig(out, "request", "answer").(string); a == "" && p != push.APNs { // APNs answers 200 with no body
				t.Error("the answer shows no vendor answer")
			}
			if u, _ := dig(out, "request", "url").(string); !strings.HasSuffix(u, r.Path) {
				t.Errorf("request url %q, sent to %q", u, r.Path)
			}
			cred := vndAccessToken(r)
			if cred == "" {
				t.Fatalf("no credential on the request: %v", r.Headers)
			}
			for _, shown := range []string{dryRaw, raw} {
				for _, s := range append([]string{cred}, secrets...) {
					if strings.Contains(shown, s) {
						t.Errorf("an answer shows a credential or secret unmasked: %s", shown)
					}
				}
			}
			masked := push.MaskSecret(cred)
			shown, _ := dig(out, "request", "body").(string)
			switch p {
			case push.OPPO:
				f := vndForm(t, r)
				f.Set("auth_token", masked)
				if shown != f.Encode() {
					t.Errorf("request body\n%s\nsent (token masked)\n%s", shown, f.Encode())
				}
			default:
				if shown != string(r.Body) {
					t.Errorf("request body\n%s\nsent\n%s", shown, r.Body)
				}
				hdr := "authorization"
				if p == push.Vivo {
					hdr = "authtoken"
				}
				want := strings.Replace(r.Headers[hdr], cred, masked, 1)
				if got := dig(out, "request", "headers", hdr); got != want {
					t.Errorf("request header %s = %v, want %q", hdr, got, want)
				}
			}
		})
	}
	if st, out := h.call("POST", "/v1/push/test", "key", map[string]any{"push_id": "p-nobody"}); st != http.StatusNotFound {
		t.Errorf("unknown push_id: %d %v, want 404", st, out)
	}
}
