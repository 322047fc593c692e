package apns

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/pushd-im/pushd/push"
)

// referencePayload is the oracle: the body as payload built it before it
// appended bytes itself, nested maps given to json.Marshal.
func referencePayload(n *push.Notification, voip bool) ([]byte, error) {
	set := func(m map[string]any, k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	body := map[string]any{}
	for k, v := range n.Data {
		body[k] = v
	}
	switch {
	case voip:
		body["aps"] = map[string]any{}
		if n.VoIP != nil {
			body["handle_type"] = n.VoIP.HandleType
			body["handle_value"] = n.VoIP.HandleValue
			body["has_video"] = n.VoIP.HasVideo
		}
		set(body, "title", n.Title)
		set(body, "body", n.Body)
	case n.Passthrough:
		body["aps"] = map[string]any{"content-available": 1}
		set(body, "title", n.Title)
		set(body, "body", n.Body)
	default:
		aps := map[string]any{"mutable-content": 1}
		alert := map[string]any{}
		set(alert, "title", n.Title)
		set(alert, "body", n.Body)
		if len(alert) > 0 {
			aps["alert"] = alert
		}
		if n.Badge > 0 {
			aps["badge"] = n.Badge
		}
		aps["sound"] = "default"
		set(aps, "sound", n.Sound)
		set(aps, "category", n.Category)
		if n.Wake {
			aps["content-available"] = 1
		}
		body["aps"] = aps
	}
	set(body, "payload", n.Payload)
	return json.Marshal(body)
}

// checkPayload fails t unless payload(n, voip) is byte-identical to the oracle
// and valid JSON.
func checkPayload(t *testing.T, n *push.Notification, voip bool) {
	t.Helper()
	want, err := referencePayload(n, voip)
	if err != nil {
		t.Fatalf("referencePayload: %v", err)
	}
	got, err := payload(n, voip, !voip && n.Passthrough)
	if err != nil {
		t.Fatalf("payload(%+v, %v): %v", n, voip, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("payload(%+v, %v)\n got %s\nwant %s", n, voip, got, want)
	}
	if !json.Valid(got) {
		t.Fatalf("payload(%+v, %v) = %s is not valid JSON", n, voip, got)
	}
}

func TestPayloadMatchesJSON(t *testing.T) {
	var controls strings.Builder
	for b := 0; b < 0x20; b++ {
		controls.WriteByte(byte(b))
	}
	controls.WriteString("\x7f\"\\/")
	long := strings.Repeat("héllo <wörld> & \u2028 日本 ", 300)
	tricky := "a\u2028b\u2029c\u2027d\u202ae\ufffd\xff\xc3(\xed\xa0\x80\xf0\x9f\x98\x80\xf0\x9f\x98" // ends in a cut rune
	data := map[string]string{
		"message_id": "m1", "sender": "ada", "stream": "s", "seq": "42", "call_id": "c9",
		"": "empty key", "Z": "upper", "a b": "space", "é": "non-ascii key", "<k>": "html key",
		"aps\x00": "nul", "\xff": "bad key", "\u2028": "ls key", "payload2": "p2",
	}

	cases := []struct {
		name string
		voip bool
		n    push.Notification
	}{
		{"empty", false, push.Notification{}},
		{"empty voip", true, push.Notification{}},
		{"typical", false, push.Notification{
			Title: "Ada", Body: "hello <there>", Payload: `{"m":1}`, Badge: 1,
			Data: map[string]string{"message_id": "m1", "sender": "ada"},
		}},
		{"title only", false, push.Notification{Title: "t"}},
		{"body only", false, push.Notification{Body: "b"}},
		{"badge 0", false, push.Notification{Title: "t", Badge: 0}},
		{"badge negative", false, push.Notification{Title: "t", Badge: -3}},
		{"badge large", false, push.Notification{Badge: 1<<62 + 12345}},
		{"sound and category", false, push.Notification{Sound: "ring.caf", Category: "IM"}},
		{"category only", false, push.Notification{Category: "VOIP"}},
		{"everything", false, push.Notification{
			Title: "T", Body: "B", Payload: "P", Badge: 7, Sound: "s", Category: "c", Data: data,
			VoIP: &push.VoIP{HandleType: 2, HandleValue: "h", HasVideo: true},
		}},
		{"voip without options", true, push.Notification{Title: "Ada", Body: "calling", Payload: "p",
			Badge: 3, Sound: "s", Category: "c", Data: map[string]string{"call_id": "c9"}}},
		{"voip with options", true, push.Notification{Title: "Ada", Body: "calling", Payload: "p",
			VoIP: &push.VoIP{HandleType: 2, HandleValue: "+33 6 <12> & 34", HasVideo: true},
			Data: map[string]string{"call_id": "c9"}}},
		{"voip zero options", true, push.Notification{VoIP: &push.VoIP{}}},
		{"silent", false, push.Notification{Title: "T", Body: "B", Payload: "P", Badge: 4, Sound: "s", Category: "c",
			Passthrough: true, Data: map[string]string{"title": "lost", "call_id": "c9"}}},
		{"silent empty", false, push.Notification{Passthrough: true}},
		{"alert that wakes the app", false, push.Notification{Title: "T", Body: "B", Badge: 1, Category: "c", Wake: true}},
		{"silent that wakes the app", false, push.Notification{Passthrough: true, Wake: true}},
		{"voip passthrough", true, push.Notification{Title: "T", Passthrough: true}},
		{"voip negative handle type", true, push.Notification{VoIP: &push.VoIP{HandleType: -1}}},
		{"voip everything", true, push.Notification{
			Title: "T", Body: "B", Payload: "P", Data: data,
			VoIP: &push.VoIP{HandleType: 1, HandleValue: tricky, HasVideo: false},
		}},
		{"collisions alert", false, push.Notification{Title: "T", Body: "B", Payload: "P", Data: map[string]string{
			"aps": "x", "payload": "x", "title": "data title", "body": "data body",
			"handle_type": "ht", "handle_value": "hv", "has_video": "hv", "alert": "a", "sound": "s",
		}}},
		{"collisions alert, empty fields", false, push.Notification{Data: map[string]string{
			"aps": "x", "payload": "data payload", "title": "data title", "body": "data body",
		}}},
		{"collisions voip", true, push.Notification{Title: "T", Body: "B", Payload: "P",
			VoIP: &push.VoIP{HandleType: 1, HandleValue: "v"}, Data: map[string]string{
				"aps": "x", "payload": "x", "title": "x", "body": "x",
				"handle_type": "x", "handle_value": "x", "has_video": "x", "mutable-content": "m",
			}}},
		{"collisions voip, empty fields", true, push.Notification{Data: map[string]string{
			"aps": "x", "payload": "data payload", "title": "data title", "body": "data body",
			"handle_type": "dt", "handle_value": "dv", "has_video": "dh",
		}}},
		{"collisions voip, title only", true, push.Notification{Title: "T", Data: map[string]string{
			"title": "data title", "body": "data body", "handle_type": "dt",
		}}},
		{"empty data values", false, push.Notification{Data: map[string]string{"a": "", "b": ""}}},
		{"empty data map", true, push.Notification{Data: map[string]string{}}},
		{"unicode", false, push.Notification{Title: "Zoë 日本語 😀", Body: "Привет, мир", Payload: "ünïcödé",
			Sound: "sön", Category: "カテゴリ", Data: map[string]string{"ключ": "значение", "键": "值"}}},
		{"html", false, push.Notification{Title: "<b>&amp;</b>", Body: "a < b > c & d", Payload: `<script>alert("x")</script>`,
			Sound: "<s>", Category: "&c", Data: map[string]string{"<&>": "<&>"}}},
		{"controls", false, push.Notification{Title: controls.String(), Body: "line1\nline2\r\n\ttab\b\f",
			Payload: controls.String(), Data: map[string]string{controls.String(): controls.String()}}},
		{"controls voip", true, push.Notification{Title: controls.String(), Body: "\x00\x01\x1f",
			VoIP: &push.VoIP{HandleValue: controls.String()}}},
		{"invalid utf8", false, push.Notification{Title: "\xff\xfe", Body: "a\xc3", Payload: "\xed\xa0\x80\xed\xbf\xbf",
			Sound: "\x80", Category: "\xf4\x90\x80\x80", Data: map[string]string{"\xfe": "\xc0\xaf", "\xff": "x"}}},
		{"line separators", false, push.Notification{Title: "\u2028", Body: "x\u2029y", Payload: tricky,
			Data: map[string]string{"\u2029": "\u2028\u2029"}}},
		{"real U+FFFD", true, push.Notification{Title: "\ufffd", Body: "\uFFFD\xff", Payload: "\ufffd"}},
		{"long strings", false, push.Notification{Title: long, Body: long, Payload: long, Sound: long, Category: long,
			Data: map[string]string{long: long}}},
		{"long strings voip", true, push.Notification{Title: long, Body: long, Payload: strings.Repeat("x", 6000),
			VoIP: &push.VoIP{HandleType: 3, HandleValue: long, HasVideo: true}}},
		{"many data keys", false, push.Notification{Title: "t", Data: manyKeys(100)}},
		{"keys sorting around fixed keys", false, push.Notification{Payload: "p", Data: map[string]string{
			"ap": "1", "apr": "2", "aps0": "3", "aq": "4", "pay": "5", "payloac": "6", "payloae": "7",
			"payload\x00": "8", "Aps": "9", "APS": "10", "_": "11", "~": "12",
		}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkPayload(t, &tc.n, tc.voip)
		})
	}
}

func manyKeys(n int) map[string]string {
	m := make(map[string]string, n)
	for i := range n {
		k := strings.Repeat(string(rune('a'+i%26)), 1+i/26)
		m[k] = k + "<" + k + ">"
	}
	return m
}

func FuzzPayloadMatchesJSON(f *testing.F) {
	f.Add("Ada", "hello <there>", `{"m":1}`, "", "", "message_id", "m1", false, 1, false, 0, "", false)
	f.Add("Ada", "calling", "p", "ring", "VOIP", "call_id", "c9", true, 0, true, 2, "+336", true)
	f.Add("", "", "", "", "", "aps", "x", false, 0, false, 0, "", false)
	f.Add("\u2028", "\xff\x00\n", "&", "\x7f", "<", "payload", "\xc3", true, -1, true, -7, "\ufffd", false)
	f.Add("t", "b", "", "", "", "title", "x", true, 5, false, 0, "", false)
	f.Fuzz(func(t *testing.T, title, body, pl, sound, category, key, value string,
		voip bool, badge int, hasOptions bool, handleType int, handleValue string, hasVideo bool) {
		n := &push.Notification{
			Title: title, Body: body, Payload: pl, Sound: sound, Category: category, Badge: badge,
			Data: map[string]string{key: value, "message_id": value + key},
		}
		if hasOptions {
			n.VoIP = &push.VoIP{HandleType: handleType, HandleValue: handleValue, HasVideo: hasVideo}
		}
		checkPayload(t, n, voip)
	})
}

func BenchmarkPayload(b *testing.B) {
	n := &push.Notification{
		Title:   "Ada Lovelace",
		Body:    "Are we still on for the <analytical engine> demo tomorrow? 🙂",
		Payload: `{"conversation":"c-8812","message":"m-99120","kind":"text"}`,
		Badge:   3,
		Sound:   "message.caf",
		Data: map[string]string{
			"message_id": "m-99120",
			"sender":     "u-ada",
			"stream":     "dm",
			"seq":        "1042",
		},
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := payload(n, false, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSend is one push to a fake APNs over HTTP/2, with the exchange
// record the push test reads and without it, as the outbox's pushes go.
func BenchmarkSend(b *testing.B) {
	f := newFakeAPNs(b, nil)
	c, _ := newTokenClient(b, f)
	for _, skip := range []bool{false, true} {
		name := "exchange"
		if skip {
			name = "skip-exchange"
		}
		b.Run(name, func(b *testing.B) {
			n := &push.Notification{Token: testToken, Title: "Ada", Body: "Are we still on for tomorrow?", CollapseID: "m-1",
				Data: map[string]string{"message_id": "m-1", "sender": "ada", "stream": "inbox", "seq": "7"}, SkipExchange: skip}
			b.ReportAllocs()
			for b.Loop() {
				if r := c.Send(context.Background(), n); r.Verdict != push.Delivered {
					b.Fatalf("send: %+v", r)
				}
			}
		})
	}
}
