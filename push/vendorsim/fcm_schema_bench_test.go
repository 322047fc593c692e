package vendorsim

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// fcmTypicalBody is a send request as pushd's FCM transport writes one: a token,
// a notification, a small data map, android and apns configs.
const fcmTypicalBody = `{"message":{"token":"` + testFCMToken + `",` +
	`"notification":{"title":"Alice","body":"Are we still on for lunch tomorrow?"},` +
	`"data":{"message_id":"m-7f3a9c","sender":"alice","conversation":"c-42","kind":"text","sent_at":"1717243200"},` +
	`"android":{"priority":"high","ttl":"86400s","collapse_key":"c-42",` +
	`"notification":{"channel_id":"messages","sound":"default","notification_count":3}},` +
	`"apns":{"headers":{"apns-priority":"10","apns-push-type":"alert","apns-collapse-id":"c-42"},` +
	`"payload":{"aps":{"alert":{"title":"Alice","body":"Are we still on for lunch tomorrow?"},"badge":3,"sound":"default"}}}}}`

// fcmCamelBody is fcmTypicalBody with the lowerCamelCase spellings of the fields
// that have one, pretty-printed.
const fcmCamelBody = `{
  "validateOnly": false,
  "message": {
    "token": "` + testFCMToken + `",
    "notification": {"title": "Alice", "body": "Are we still on for lunch tomorrow?"},
    "data": {"message_id": "m-7f3a9c", "sender": "alice", "conversation": "c-42", "kind": "text", "sent_at": "1717243200"},
    "android": {
      "priority": "high", "ttl": "86400s", "collapseKey": "c-42", "directBootOk": true,
      "notification": {"channelId": "messages", "sound": "default", "notificationCount": 3}
    },
    "apns": {
      "headers": {"apns-priority": "10", "apns-push-type": "alert", "apns-collapse-id": "c-42"},
      "payload": {"aps": {"alert": {"title": "Alice", "body": "Are we still on for lunch tomorrow?"}, "badge": 3, "sound": "default"}}
    }
  }
}`

// fcmRejectedBody breaks the schema in several places: unknown fields, a data
// value that is not a string, a bool that is a string.
const fcmRejectedBody = `{"to":"x","validate_only":"yes","message":{"token":"` + testFCMToken + `",` +
	`"notification":{"title":"Alice","body":"hi","sound":"default"},` +
	`"data":{"message_id":"m-7f3a9c","count":2},` +
	`"android":{"priority":"high","notification":{"channel_id":"messages","sticky":"yes"}}}}`

// BenchmarkFCMValidate measures the FCM simulator's checks of one send request
// body (schema, target, android, data keys, payload size), without HTTP.
func BenchmarkFCMValidate(b *testing.B) {
	s, err := New(Options{Credentials: testCreds(b), Now: func() time.Time { return fuzzNow }})
	if err != nil {
		b.Fatal(err)
	}
	v := newTestFCM(s)
	r := &http.Request{Method: http.MethodPost, URL: &url.URL{Path: "/v1/projects/" + DemoProjectID + "/messages:send"}, Header: http.Header{}}
	for _, bc := range []struct {
		name   string
		body   string
		status int
	}{
		{"typical", fcmTypicalBody, http.StatusOK},
		{"camelCase", fcmCamelBody, http.StatusOK},
		{"rejected", fcmRejectedBody, http.StatusBadRequest},
	} {
		b.Run(bc.name, func(b *testing.B) {
			body := []byte(bc.body)
			targets := []string{testFCMToken}
			if a := v.serve(r, body, targets); a.status != bc.status {
				b.Fatalf("status %d, want %d: %s", a.status, bc.status, a.body)
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				v.serve(r, body, targets)
			}
		})
	}
}
