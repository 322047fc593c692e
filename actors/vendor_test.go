package actors

import (
	"testing"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/wire"
)

func TestClassOf(t *testing.T) {
	one, zero := 1, 0
	cases := []struct {
		p       push.Provider
		n       push.Notification
		private string
		want    string
	}{
		{push.HMS, push.Notification{Category: "IM"}, "", classIM},
		{push.HMS, push.Notification{Category: "VOIP"}, "", classIM},
		{push.HMS, push.Notification{Category: "MARKETING"}, "", classPublic},
		{push.HMS, push.Notification{}, "", classPublic},
		{push.Vivo, push.Notification{Classification: &one}, "", classIM},
		{push.Vivo, push.Notification{Classification: &zero}, "", classPublic},
		{push.Xiaomi, push.Notification{ChannelID: "im"}, "im", classIM},
		{push.Xiaomi, push.Notification{ChannelID: "promo"}, "im", classPublic},
		{push.Xiaomi, push.Notification{}, "", classPublic},
		{push.OPPO, push.Notification{ChannelID: "private"}, "", classIM},
		{push.APNs, push.Notification{}, "", classPublic},
	}
	for _, c := range cases {
		if got := classOf(c.p, &c.n, c.private); got != c.want {
			t.Errorf("%s %+v: %s, want %s", c.p, c.n, got, c.want)
		}
	}
}

func TestVendorDayTurnsAtTheVendorsMidnight(t *testing.T) {
	// 15:30 UTC is 23:30 in China: the Chinese vendors' day turns in 30 minutes,
	// the others' at UTC midnight.
	now := time.Date(2026, 11, 26, 15, 30, 0, 0, time.UTC)
	if d := untilNextVendorDay(push.Xiaomi, now); d != 30*time.Minute {
		t.Errorf("xiaomi: %v", d)
	}
	if d := untilNextVendorDay(push.FCM, now); d != 8*time.Hour+30*time.Minute {
		t.Errorf("fcm: %v", d)
	}
	if a, b := vendorDay(push.OPPO, now), vendorDay(push.OPPO, now.Add(31*time.Minute)); a == b {
		t.Errorf("oppo day did not turn: %s", a)
	}
	if a, b := vendorDay(push.APNs, now), vendorDay(push.APNs, now.Add(31*time.Minute)); a != b {
		t.Errorf("apns day turned at China midnight: %s → %s", a, b)
	}
}

func TestBackoffGrowsWithJitterAndStaysCapped(t *testing.T) {
	for attempts := int32(0); attempts < 40; attempts++ {
		want := min(retryBase<<min(attempts, 20), retryCap)
		for i := 0; i < 20; i++ {
			d := backoff(attempts)
			if d < want-want/5 || d > want+want/5 {
				t.Fatalf("attempt %d: %v outside %v ± 20%%", attempts, d, want)
			}
		}
	}
}

func TestPushBindingsPrefersVoIPForCalls(t *testing.T) {
	bs := []*wire.Binding{
		{PushId: "a", DeviceId: "iphone", PushType: "alert"},
		{PushId: "b", DeviceId: "iphone", PushType: "voip"},
		{PushId: "c", DeviceId: "pixel", PushType: "alert"},
	}
	ids := func(bs []*wire.Binding) (s string) {
		for _, b := range bs {
			s += b.PushId
		}
		return s
	}
	if got := ids(pushBindings(bs, false)); got != "ac" {
		t.Errorf("message push went to %q, want the alert bindings ac", got)
	}
	if got := ids(pushBindings(bs, true)); got != "bc" {
		t.Errorf("VoIP call push went to %q, want the iPhone's VoIP binding and the Pixel's alert: bc", got)
	}
}

func TestBatchKeyIgnoresTokenAndID(t *testing.T) {
	job := func(id uint64, token, title string) *wire.PushJob {
		return &wire.PushJob{Id: id, Token: token, PushId: "p" + token, User: "u" + token, MessageId: "m", Stream: "group:g", Seq: 3,
			PushConfig: &wire.PushConfig{Title: title}, Data: map[string]string{"call_id": "c"}}
	}
	v := &vendorActor{}
	if v.batchKey(job(1, "t1", "x")) != v.batchKey(job(2, "t2", "x")) {
		t.Error("pushes of one message differing only in token, id and user do not batch")
	}
	if v.batchKey(job(1, "t1", "x")) == v.batchKey(job(3, "t3", "y")) {
		t.Error("pushes with different titles batch")
	}
	other := job(4, "t4", "x")
	other.Seq = 4
	if v.batchKey(job(1, "t1", "x")) == v.batchKey(other) {
		t.Error("pushes at different stream positions batch")
	}
	// Jobs without data reuse the last key while their fields match; a change
	// in any field makes a new one.
	pc := &wire.PushConfig{Title: "x"}
	plain := func(token string, f func(j *wire.PushJob)) *wire.PushJob {
		j := job(5, token, "x")
		j.Data, j.PushConfig = nil, pc
		if f != nil {
			f(j)
		}
		return j
	}
	first := v.batchKey(plain("t5", nil))
	if v.batchKey(plain("t6", nil)) != first {
		t.Error("a second push of the same message got another key")
	}
	for name, f := range map[string]func(j *wire.PushJob){
		"message": func(j *wire.PushJob) { j.MessageId = "m2" }, "push type": func(j *wire.PushJob) { j.PushType = "voip" },
		"bundle": func(j *wire.PushJob) { j.BundleId = "b2" }, "apns env": func(j *wire.PushJob) { j.ApnsEnv = "development" },
		"expiry": func(j *wire.PushJob) { j.ExpiresAtMs = 9 }, "priority": func(j *wire.PushJob) { j.Priority = 1 },
		"collapse id": func(j *wire.PushJob) { j.CollapseId = "c2" }, "sender": func(j *wire.PushJob) { j.From = "x" },
		"config": func(j *wire.PushJob) { j.PushConfig = &wire.PushConfig{Title: "y"} },
	} {
		if v.batchKey(plain("t7", f)) == first {
			t.Errorf("a push with another %s got the same key", name)
		}
		if v.batchKey(plain("t8", nil)) != first {
			t.Errorf("after a push with another %s, the first message's key changed", name)
		}
	}
}

func TestNotificationAppliesProfileThenDefaults(t *testing.T) {
	one := 1
	app := &App{
		ID:        "demo",
		Defaults:  map[push.Provider]Profile{push.Vivo: {Category: "IM", Classification: &one}},
		Resources: map[string]map[push.Provider]Profile{"ring": {push.Vivo: {Sound: "ring.mp3", Category: "MARKETING"}}},
	}
	j := &wire.PushJob{App: "demo", Provider: "vivo", Token: "t", MessageId: "m", From: "alice", Stream: "inbox", Seq: 7,
		PushConfig: &wire.PushConfig{Title: "T", Content: "C", ResourcesId: "ring"}, ExpiresAtMs: 1_800_000_000_000}
	n := notification(app, j)
	if n.Sound != "ring.mp3" || n.Category != "MARKETING" || n.Classification == nil || *n.Classification != 1 {
		t.Errorf("profile then defaults: %+v", n)
	}
	if n.Data["sender"] != "alice" || n.Data["seq"] != "7" || n.Data["message_id"] != "m" || n.Expiration.UnixMilli() != j.ExpiresAtMs {
		t.Errorf("data/expiration: %+v", n)
	}
}

func TestSplitKey(t *testing.T) {
	for key, ok := range map[string]bool{"u/demo/bob": true, "g/demo/team": true, "c/demo/x1": true, "u/demo": false, "u//bob": false, "u/demo/bob/x": false} {
		if _, _, _, got := splitKey(key); got != ok {
			t.Errorf("%q: %v", key, got)
		}
	}
}

func TestAndroidPushWithOnlyContentGetsATitle(t *testing.T) {
	app := &App{ID: "demo"}
	for _, p := range []push.Provider{push.HMS, push.Xiaomi, push.OPPO, push.Vivo} {
		n := notification(app, &wire.PushJob{App: "demo", Provider: string(p), PushConfig: &wire.PushConfig{Content: "hello"}})
		if n.Title != "hello" || n.Body != "hello" {
			t.Errorf("%s: title %q body %q", p, n.Title, n.Body)
		}
	}
	n := notification(app, &wire.PushJob{App: "demo", Provider: "apns", PushConfig: &wire.PushConfig{Content: "hello"}})
	if n.Title != "" {
		t.Errorf("apns got a title %q", n.Title)
	}
}
