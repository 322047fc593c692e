package fcm_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/fcm"
	"github.com/pushd-im/pushd/push/vendors/internal/vendortest"
	"github.com/pushd-im/pushd/push/vendorsim"
)

// These tests run the client against the real simulator, in process.

func simClient(t *testing.T) (*vendorsim.Sim, *fcm.Client) {
	t.Helper()
	creds := vendortest.SimCredentials(t)
	s, ca := vendortest.StartSim(t, creds, time.Now)
	c := vendortest.NewClient(t, fcm.New, fcm.Options{
		ServiceAccountJSON: creds.ServiceAccountJSON(s.AuthEndpoint(push.FCM)),
		Endpoint:           s.Endpoint(push.FCM), CAFile: ca, Timeout: 10 * time.Second,
	})
	return s, c
}

func TestSimulatorTakesPassthroughAsDataMessage(t *testing.T) {
	s, c := simClient(t)
	tok := "sim-" + strings.Repeat("a", 150)
	n := &push.Notification{Token: tok, Title: "Ada", Body: "sync", Payload: "p", Badge: 2, Sound: "ding", ChannelID: "im",
		Passthrough: true, Priority: push.PriorityHigh, Data: map[string]string{"message_id": "m1"}}
	if r := c.Send(context.Background(), n); r.Verdict != push.Delivered {
		t.Fatalf("pass-through push: %+v", r)
	}
	rec := s.Delivered(push.FCM, tok)
	if len(rec) != 1 {
		t.Fatalf("records %+v", s.Records(push.FCM))
	}
	var body map[string]map[string]any
	if err := json.Unmarshal(rec[0].Body, &body); err != nil {
		t.Fatal(err)
	}
	m := body["message"]
	want := map[string]any{
		"token": tok,
		// No notification block: the app gets the text as data and shows
		// what it wants.
		"data":    map[string]any{"title": "Ada", "body": "sync", "payload": "p", "message_id": "m1"},
		"android": map[string]any{"priority": "HIGH"},
		// On iOS through FCM it is a background push, as Apple requires.
		"apns": map[string]any{
			"headers": map[string]any{"apns-priority": "5", "apns-push-type": "background"},
			"payload": map[string]any{"aps": map[string]any{"content-available": float64(1)}},
		},
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("message %s\nwant %v", rec[0].Body, want)
	}
}
