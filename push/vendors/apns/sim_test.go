package apns_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/apns"
	"github.com/pushd-im/pushd/push/vendors/internal/vendortest"
	"github.com/pushd-im/pushd/push/vendorsim"
)

// These tests run the client against the real simulator, in process.

func simClient(t *testing.T) (*vendorsim.Sim, *apns.Client) {
	t.Helper()
	creds := vendortest.SimCredentials(t)
	s, ca := vendortest.StartSim(t, creds, time.Now)
	c := vendortest.NewClient(t, apns.New, apns.Options{
		TeamID: creds.APNs.TeamID, KeyID: creds.APNs.KeyID, KeyPEM: creds.APNs.KeyPEM, BundleID: creds.APNs.BundleID,
		EndpointProduction: s.Endpoint(push.APNs), EndpointDevelopment: s.APNsSandboxEndpoint(),
		CAFile: ca, Timeout: 10 * time.Second,
	})
	return s, c
}

func TestSimulatorTakesSilentPushAsBackground(t *testing.T) {
	s, c := simClient(t)
	tok := s.APNsToken(false)
	n := &push.Notification{Token: tok, Title: "Ada", Body: "sync", Payload: `{"k":1}`, Badge: 3, Sound: "ring.caf",
		Passthrough: true, Priority: push.PriorityHigh, Data: map[string]string{"message_id": "m1"}}
	if r := c.Send(context.Background(), n); r.Verdict != push.Delivered {
		t.Fatalf("silent push: %+v", r)
	}
	rec := s.Delivered(push.APNs, tok)
	if len(rec) != 1 {
		t.Fatalf("records %+v", s.Records(push.APNs))
	}
	if h := rec[0].Headers; h["apns-push-type"] != "background" || h["apns-priority"] != "5" {
		t.Errorf("headers %v, want push type background at priority 5", h)
	}
	var body map[string]any
	if err := json.Unmarshal(rec[0].Body, &body); err != nil {
		t.Fatal(err)
	}
	aps, _ := json.Marshal(body["aps"])
	if string(aps) != `{"content-available":1}` || body["title"] != "Ada" || body["body"] != "sync" ||
		body["payload"] != `{"k":1}` || body["message_id"] != "m1" {
		t.Errorf("body %s: want aps content-available alone, the text and data at the top level", rec[0].Body)
	}

	// A VoIP push stays one: pass-through does not apply to a call's wake-up.
	voip := &push.Notification{Token: tok, PushType: "voip", Passthrough: true, VoIP: &push.VoIP{HandleType: 1, HandleValue: "ada"}}
	if r := c.Send(context.Background(), voip); r.Verdict != push.Delivered || r.Exchange.Headers["apns-push-type"] != "voip" {
		t.Fatalf("voip push with a pass-through profile: %+v", r)
	}
}
