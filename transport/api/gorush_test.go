package api

import (
	"strings"
	"testing"
	"time"

	"github.com/pushd-im/pushd/push"
)

// FuzzDecodeGorush: whatever a gorush client sends, the decoder answers a 400
// naming what was wrong, or pushes that each name a known provider, a token
// within bounds and content within the push_config limits.
func FuzzDecodeGorush(f *testing.F) {
	for _, s := range []string{
		`{"notifications":[{"tokens":["token_a","token_b"],"platform":1,"message":"Hello World iOS!"}]}`,
		`{"notifications":[{"tokens":["token_a"],"platform":1,"badge":5,"alert":{"title":"Game Request","body":"Bob wants to play poker","action-loc-key":"PLAY"}}]}`,
		`{"notifications":[{"tokens":["token_a"],"platform":1,"message":"You got your emails.","badge":9,"sound":{"critical":1,"name":"default","volume":1.0}}]}`,
		`{"notifications":[{"tokens":["token_a"],"platform":2,"message":"m","title":"t","data":{"Nick":"Mario","n":2,"o":{"x":[1]}}}]}`,
		`{"notifications":[{"to":"/topics/foo-bar","platform":2,"message":"topic"}]}`,
		`{"notifications":[{"tokens":["a"],"platform":3,"priority":"normal","expiration":99999999999,"push_type":"voip"}]}`,
		`{"notifications":[{"tokens":["a"],"platform":1,"push_type":"voip","topic":"com.x.voip","development":true,"time_to_live":60}]}`,
		`{"notifications":[]}`,
		`[]`,
	} {
		f.Add([]byte(s))
	}
	now := time.Unix(1_800_000_000, 0)
	f.Fuzz(func(t *testing.T, body []byte) {
		ps, e := decodeGorush(body, now)
		if e != nil {
			if e.Status != 400 || e.Code == "" || e.Message == "" {
				t.Fatalf("error %+v", e)
			}
			return
		}
		if len(ps) > maxGorushPushes {
			t.Fatalf("%d pushes, over %d", len(ps), maxGorushPushes)
		}
		for _, p := range ps {
			switch p.Provider {
			case push.APNs, push.FCM, push.HMS:
			default:
				t.Fatalf("provider %q", p.Provider)
			}
			if p.Token == "" || len(p.Token) > maxGorushToken || strings.HasPrefix(p.Token, "/topics/") && p.Provider != push.APNs {
				t.Fatalf("token %q", p.Token)
			}
			if len(p.Config.Title) > maxTitle || len(p.Config.Content) > maxContent || p.Config.BadgeIncrement < 0 {
				t.Fatalf("push config %+v", p.Config)
			}
			if !p.Expires.IsZero() && !p.Expires.After(now) {
				t.Fatalf("expired push %v", p.Expires)
			}
			if p.PushType != "alert" && p.PushType != "voip" {
				t.Fatalf("push type %q", p.PushType)
			}
		}
	})
}

func TestDecodeGorushMapsTheFields(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	ps, e := decodeGorush([]byte(`{"notifications":[{"tokens":["t1"],"to":"t2","platform":1,"title":"T","message":"M","priority":"normal",
		"topic":"com.example.app.voip","push_type":"voip","development":true,"apns_id":"c-1","expiration":1800000060,"badge":3,
		"data":{"k":"v","n":1}, "mutable_content":true,"category":"C","sound":"default","unknown_field":1}]}`), now)
	if e != nil {
		t.Fatal(e)
	}
	if len(ps) != 2 || ps[1].Token != "t2" {
		t.Fatalf("pushes %+v", ps)
	}
	p := ps[0]
	if p.Provider != push.APNs || p.BundleID != "com.example.app" || p.PushType != "voip" || p.APNsEnv != "development" ||
		p.CollapseID != "c-1" || p.Priority != push.PriorityLow || !p.Expires.Equal(now.Add(time.Minute)) ||
		p.Config.Title != "T" || p.Config.Content != "M" || p.Config.BadgeIncrement != 3 || p.Data["k"] != "v" || p.Data["n"] != "1" {
		t.Errorf("push %+v (config %+v)", p, p.Config)
	}
	ps, e = decodeGorush([]byte(`{"notifications":[{"tokens":["t1"],"platform":2,"message":"x","dry_run":true}]}`), now)
	if e != nil || len(ps) != 0 {
		t.Errorf("dry run: %v %v", ps, e)
	}
}
