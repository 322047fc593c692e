package vendorsim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pushd-im/pushd/push"
)

func TestWaitSeesRecordsFromAnotherGoroutine(t *testing.T) {
	s := startSim(t, Options{})
	p := newAPNsPusher(t, s)
	sent := make(chan reply, 3)
	go func() {
		for _, tok := range []string{testDeviceToken, otherDeviceToken, testDeviceToken} {
			r, err := doCtx(t.Context(), p.hc, http.MethodPost, s.Endpoint(push.APNs)+"/3/device/"+tok, p.h, []byte(apnsBody))
			if err != nil {
				t.Errorf("push: %v", err)
			}
			sent <- r
		}
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	err := s.Wait(ctx, func(recs []Record) bool {
		n := 0
		for i := range recs {
			if recs[i].Delivered(testDeviceToken) {
				n++
			}
		}
		return n == 2
	})
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if got := len(s.Delivered(push.APNs, testDeviceToken)); got != 2 {
		t.Fatalf("Delivered = %d", got)
	}
	if got := len(s.Delivered(push.APNs, otherDeviceToken)); got != 1 {
		t.Fatalf("Delivered(other) = %d", got)
	}
	for range 3 {
		<-sent
	}
}

func TestWaitHonoursContext(t *testing.T) {
	s := startSim(t, Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Wait(ctx, func(recs []Record) bool { return len(recs) > 0 }); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v, want context.Canceled", err)
	}
}

func TestRecordsAreCopiesAndResettable(t *testing.T) {
	s := startSim(t, Options{MaxRecords: 2})
	p := newAPNsPusher(t, s)
	for range 3 {
		if r := p.push(testDeviceToken); r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	}
	recs := s.Records(push.APNs)
	if len(recs) != 2 {
		t.Fatalf("kept %d records, want MaxRecords=2", len(recs))
	}
	if s.Count(push.APNs) != 3 {
		t.Fatalf("Count = %d, want 3 (dropped records still count)", s.Count(push.APNs))
	}
	recs[0].Headers["apns-topic"] = "changed"
	recs[0].Body[0] = 'X'
	if again := s.Records(push.APNs); again[0].Headers["apns-topic"] != DemoBundleID || again[0].Body[0] != '{' {
		t.Fatalf("Records returned shared memory: %+v", again[0])
	}
	if len(s.Records(push.FCM)) != 0 || len(s.Records("")) != 2 {
		t.Fatalf("provider filter: fcm %d all %d", len(s.Records(push.FCM)), len(s.Records("")))
	}
	s.Reset()
	if len(s.Records("")) != 0 || s.Count(push.APNs) != 0 {
		t.Fatalf("after Reset: %d records, Count %d", len(s.Records("")), s.Count(push.APNs))
	}
}

func TestRecordJSONRoundTrip(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, r := range []Record{
		{Provider: push.APNs, Token: "ab", Tokens: []string{"ab"}, Path: "/3/device/ab", Headers: map[string]string{"apns-topic": "x"},
			Body: []byte(`{"aps":{}}`), Status: 200, Accepted: true, At: at},
		{Provider: push.Xiaomi, Tokens: []string{"r1", "r2"}, Path: "/v3/message/regid", Body: []byte("registration_id=r1,r2&title=hi"),
			Status: 200, Accepted: true, InvalidTokens: []string{"r2"}, At: at},
		{Provider: push.Xiaomi, Token: "r1", Tokens: []string{"r1"}, Status: 200, Reason: "200001", At: at},
		{Provider: push.FCM, Token: "t", Tokens: []string{"t"}, Status: 0, Reason: "canceled", DryRun: true, At: at},
	} {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var back Record
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if string(back.Body) != string(r.Body) || back.Provider != r.Provider || back.Status != r.Status || back.Accepted != r.Accepted ||
			back.Reason != r.Reason || back.DryRun != r.DryRun || !back.At.Equal(r.At) ||
			len(back.Tokens) != len(r.Tokens) || len(back.InvalidTokens) != len(r.InvalidTokens) {
			t.Fatalf("round trip of %s gave %+v", b, back)
		}
	}
	// A batch record delivers only its accepted tokens.
	batch := Record{Provider: push.Xiaomi, Tokens: []string{"r1", "r2"}, InvalidTokens: []string{"r2"}, Status: 200, Accepted: true}
	if !batch.Delivered("r1") || batch.Delivered("r2") || batch.deliveredCount() != 1 {
		t.Fatalf("batch delivery: r1 %v r2 %v count %d", batch.Delivered("r1"), batch.Delivered("r2"), batch.deliveredCount())
	}
	// A refusal in an HTTP 200 (MiPush, OPPO, vivo) delivers nothing.
	refused := Record{Provider: push.Xiaomi, Token: "r1", Tokens: []string{"r1"}, Status: 200, Reason: "200001"}
	if refused.Delivered("r1") || refused.Delivered("") || refused.deliveredCount() != 0 {
		t.Fatal("a refused record counts as delivered")
	}
	if b, _ := json.Marshal(refused); !strings.Contains(string(b), `"status":200,"accepted":false`) {
		t.Fatalf("refused record JSON %s", b)
	}
	// A record from a simulator that predates "accepted": HTTP 200 was acceptance.
	for status, want := range map[int]bool{200: true, 410: false} {
		var old Record
		j := fmt.Sprintf(`{"provider":"apns","token":"ab","tokens":["ab"],"path":"/3/device/ab","headers":{},"status":%d,"at":"2025-01-02T03:04:05Z"}`, status)
		if err := json.Unmarshal([]byte(j), &old); err != nil || old.Accepted != want || old.Delivered("ab") != want {
			t.Fatalf("old record %s: accepted %v, delivered %v, err %v", j, old.Accepted, old.Delivered("ab"), err)
		}
	}
}
