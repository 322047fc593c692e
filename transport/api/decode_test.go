package api

import (
	"strings"
	"testing"
)

func TestDecodeStrictNamesTheField(t *testing.T) {
	cases := []struct {
		body, want string
	}{
		{`{"to":1}`, "to: must be a string"},
		{`{"push_config":{"badge_increment":"x"}}`, "push_config.badge_increment: must be an integer"},
		{`{"nope":1}`, "nope: unknown field"},
		{`{"to":"a"`, "body: ends before"},
		{`{"to":"a"} x`, "body: has data after"},
		{"", "body: is empty"},
		{"{\"to\":\"\xff\"}", "body: is not valid UTF-8"},
	}
	for _, c := range cases {
		var r sendRequest
		e := decodeStrict([]byte(c.body), &r)
		if e == nil || !strings.Contains(e.Message, c.want) {
			t.Errorf("%q: %v, want %q", c.body, e, c.want)
		}
	}
}

func TestSendValidation(t *testing.T) {
	zero, one := 0, 1
	ok := sendRequest{From: "a", To: "b", ConversationType: &zero, Type: 1}
	if e := ok.validate(true, nil); e != nil || ok.Priority != 2 {
		t.Fatalf("valid message: %v (priority %d)", e, ok.Priority)
	}
	bad := []struct {
		r    sendRequest
		want string
	}{
		{sendRequest{To: "b", ConversationType: &zero, Type: 1}, "from"},
		{sendRequest{From: "a", To: "b c", ConversationType: &zero, Type: 1}, "to"},
		{sendRequest{From: "a", To: "b", Type: 1}, "conversation_type"},
		{sendRequest{From: "a", To: "b", ConversationType: &one, Type: 1}, "conversation_type"},

		{sendRequest{From: "a", To: "b", ConversationType: &zero, Type: 3}, "type"},
		{sendRequest{From: "a", To: "b", ConversationType: &zero, Type: 1, Priority: 4}, "priority"},
		{sendRequest{From: "a", To: "b", ConversationType: &zero, Type: 1, ClientMsgID: strings.Repeat("c", 129)}, "client_msg_id"},
		{sendRequest{From: "a", To: "b", ConversationType: &zero, Type: 1, PushConfig: &pushConfig{VoIP: &voipConfig{HandleType: 9}}}, "push_config.voip.handle_type"},
	}
	for _, b := range bad {
		if e := b.r.validate(true, nil); e == nil || !strings.Contains(e.Message, b.want) {
			t.Errorf("%+v: %v, want an error naming %s", b.r, e, b.want)
		}
	}
	client := sendRequest{From: "x", To: "b", ConversationType: &zero, Type: 1}
	if e := client.validate(false, nil); e == nil || !strings.Contains(e.Message, "from") {
		t.Errorf("a client naming a sender: %v", e)
	}
}

func TestParseClientFrame(t *testing.T) {
	good := []string{`{"type":"ping"}`, `{"type":"ack","stream":"inbox","seq":3}`, `{"type":"ack","stream":"group:g1","seq":1}`, `{"type":"state","foreground":false}`}
	for _, g := range good {
		if _, e := parseClientFrame([]byte(g)); e != nil {
			t.Errorf("%s: %v", g, e)
		}
	}
	bad := map[string]string{
		`{"type":"ack","stream":"inbox"}`:          "seq",
		`{"type":"ack","seq":1}`:                   "stream",
		`{"type":"ack","stream":"x","seq":1}`:      "stream",
		`{"type":"state"}`:                         "foreground",
		`{"type":"jump"}`:                          "type",
		`{}`:                                       "type",
		`{"type":"ping","extra":1}`:                "extra",
		`{"type":"ack","stream":"inbox","seq":-1}`: "seq",
	}
	for in, want := range bad {
		if _, e := parseClientFrame([]byte(in)); e == nil || !strings.Contains(e.Message, want) {
			t.Errorf("%s: %v, want an error naming %s", in, e, want)
		}
	}
}

// FuzzDecodeSend feeds arbitrary bodies to the message decoder and validator:
// they must answer an error or a valid message, never panic.
func FuzzDecodeSend(f *testing.F) {
	f.Add([]byte(`{"from":"a","to":"b","conversation_type":0,"type":1,"body":"hi","push_config":{"title":"t","voip":{"handle_type":1}}}`))
	f.Add([]byte(`{"to":"b","conversation_type":2}`))
	f.Add([]byte(`{"messages":[{"to":"x"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var r sendRequest
		if e := decodeStrict(body, &r); e != nil {
			if e.Status != 400 || e.Message == "" {
				t.Fatalf("decode error %+v", e)
			}
			return
		}
		if e := r.validate(true, map[string]bool{"ring": true}); e == nil {
			m := r.message("app")
			if !validID(m.To, maxUserID) || !validID(m.From, maxUserID) || len(m.Body) > maxBody {
				t.Fatalf("invalid message passed validation: %+v", m)
			}
		}
		var b bindRequest
		if decodeStrict(body, &b) == nil && b.validate() == nil && b.Token == "" {
			t.Fatal("binding without token passed")
		}
		var br batchRequest
		_ = decodeStrict(body, &br)
	})
}

// FuzzClientFrame feeds arbitrary WebSocket frames to the frame parser.
func FuzzClientFrame(f *testing.F) {
	f.Add([]byte(`{"type":"ack","stream":"inbox","seq":3}`))
	f.Add([]byte(`{"type":"state","foreground":true}`))
	f.Add([]byte(`{"type":"ping"}`))
	f.Fuzz(func(t *testing.T, frame []byte) {
		fr, e := parseClientFrame(frame)
		if e == nil && fr.Type == "ack" && (fr.Seq == 0 || fr.Stream == "") {
			t.Fatalf("ack without stream or seq passed: %+v", fr)
		}
	})
}

// TestTopLevelPushFieldsAreNamedPlainly: POST /v1/push/test takes title,
// content and payload at the top level, so its errors name them without a
// leading dot (they once said ".title").
func TestTopLevelPushFieldsAreNamedPlainly(t *testing.T) {
	long := strings.Repeat("x", maxContent+1)
	cases := map[string]testPushRequest{
		"title: ":         {PushID: "p1", pushConfig: pushConfig{Title: strings.Repeat("x", maxTitle+1)}},
		"content: ":       {PushID: "p1", pushConfig: pushConfig{Content: long}},
		"payload: ":       {PushID: "p1", pushConfig: pushConfig{Payload: long}},
		"push_id: ":       {pushConfig: pushConfig{Title: "t"}},
		"push_id: is not": {PushID: "p/1"},
		"push_type: ":     {PushID: "p1", PushType: "banner"},
		"resources_id: ":  {PushID: "p1", pushConfig: pushConfig{ResourcesID: "nope"}},
	}
	for want, r := range cases {
		if e := r.validate(nil); e == nil || !strings.HasPrefix(e.Message, want) {
			t.Errorf("%s: %v, want a message starting %q", want, e, want)
		}
	}
	nested := pushConfig{Title: strings.Repeat("x", maxTitle+1)}
	if e := nested.validate("push_config", nil); e == nil || !strings.HasPrefix(e.Message, "push_config.title: ") {
		t.Errorf("nested push_config: %v", e)
	}
}

func TestDecodeValidChecksAfterDecoding(t *testing.T) {
	var r logoutRequest
	if e := decodeValid([]byte(`{"device_id":"d 1"}`), &r); e == nil || !strings.HasPrefix(e.Message, "device_id: ") {
		t.Errorf("bad device_id: %v", e)
	}
	if e := decodeValid([]byte(`{"device":"d1"}`), &r); e == nil || e.Code != codeUnknownField {
		t.Errorf("unknown field: %v", e)
	}
	if e := decodeValid([]byte(`{"device_id":"d1"}`), &r); e != nil || r.DeviceID != "d1" {
		t.Errorf("good body: %v (%+v)", e, r)
	}
}
