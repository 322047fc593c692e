package vivo_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/internal/vendortest"
	"github.com/pushd-im/pushd/push/vendors/vivo"
	"github.com/pushd-im/pushd/push/vendorsim"
)

// startSim runs the real simulator on loopback with clk as its clock, and
// returns it with client Options pointed at it.
func startSim(t *testing.T, clk *vendortest.Clock) (*vendorsim.Sim, vivo.Options) {
	t.Helper()
	creds := vendortest.SimCredentials(t)
	s, caFile := vendortest.StartSim(t, creds, clk.Now)
	return s, vivo.Options{
		AppID: creds.Vivo.AppID, AppKey: creds.Vivo.AppKey, AppSecret: creds.Vivo.AppSecret,
		Endpoint: s.Endpoint(push.Vivo), AuthEndpoint: s.AuthEndpoint(push.Vivo), Category: "IM",
		CAFile: caFile, Timeout: 10 * time.Second, Now: clk.Now,
	}
}

func newSimClient(t *testing.T, o vivo.Options) *vivo.Client {
	t.Helper()
	return vendortest.NewClient(t, vivo.New, o)
}

func regIDs(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%04d", prefix, i)
	}
	return out
}

func intPtr(n int) *int { return &n }

func TestAgainstSimulator(t *testing.T) {
	clk := vendortest.NewClock(time.Date(2025, 6, 1, 4, 0, 0, 0, time.UTC))
	s, o := startSim(t, clk)
	c := newSimClient(t, o)
	ctx := context.Background()

	// One token: /message/send with every mapped field.
	r := c.Send(ctx, &push.Notification{
		ID: "job-1", Token: "reg-1", Title: "Ada", Body: "你好", Payload: `{"conv":"c1"}`,
		Data:     map[string]string{"message_id": "m1", "sender": "ada", "stream": "inbox", "seq": "4"},
		Priority: push.PriorityHigh, Expiration: clk.Now().Add(2 * time.Hour),
	})
	if r.Verdict != push.Delivered {
		t.Fatalf("single send: %+v", r)
	}
	del := s.Delivered(push.Vivo, "reg-1")
	if len(del) != 1 || del[0].Path != "/message/send" {
		t.Fatalf("delivered records %+v", del)
	}
	var body map[string]any
	if err := json.Unmarshal(del[0].Body, &body); err != nil {
		t.Fatal(err)
	}
	if body["title"] != "Ada" || body["content"] != "你好" || body["classification"] != 1.0 || body["category"] != "IM" ||
		body["timeToLive"] != 7200.0 || body["appId"] != float64(o.AppID) ||
		!strings.HasPrefix(body["requestId"].(string), "job-1-") ||
		!reflect.DeepEqual(body["clientCustomMap"], map[string]any{"payload": `{"conv":"c1"}`, "message_id": "m1", "sender": "ada", "stream": "inbox", "seq": "4"}) {
		t.Errorf("sent body %s", del[0].Body)
	}

	// 1000 tokens: one pushToList carrying them all, after one saveListPayload.
	s.Reset()
	tokens := regIDs("reg-", 1000)
	r = c.Send(ctx, &push.Notification{ID: "job-2", Tokens: tokens, Title: "Group", Body: "hi all"})
	if r.Verdict != push.Delivered || len(r.InvalidTokens) != 0 {
		t.Fatalf("batch: %+v", r)
	}
	var lists []vendorsim.Record
	for _, rec := range s.Records(push.Vivo) {
		if len(rec.Tokens) > 0 {
			lists = append(lists, rec)
		}
	}
	if len(lists) != 1 || lists[0].Path != "/message/pushToList" || len(lists[0].Tokens) != 1000 || s.Count(push.Vivo) != 1000 {
		t.Fatalf("%d records with tokens, count %d; want one pushToList of 1000", len(lists), s.Count(push.Vivo))
	}
	if n := len(s.Records(push.Vivo)); n != 2 {
		t.Errorf("%d records for a batch, want saveListPayload and pushToList", n)
	}

	// Invalid tokens: a dead single token, and dead ones inside a batch.
	r = c.Send(ctx, &push.Notification{Token: "invalid-1", Title: "t", Body: "b"})
	if r.Verdict != push.TokenInvalid || !strings.HasPrefix(r.Reason, "10302") {
		t.Errorf("invalid single token: %+v", r)
	}
	r = c.Send(ctx, &push.Notification{Tokens: []string{"reg-a", "invalid-2", "reg-b", "invalid-3"}, Title: "t", Body: "b"})
	if r.Verdict != push.Delivered || !reflect.DeepEqual(r.InvalidTokens, []string{"invalid-2", "invalid-3"}) {
		t.Errorf("batch with invalid tokens: %+v", r)
	}
	r = c.Send(ctx, &push.Notification{Tokens: []string{"invalid-4", "invalid-5"}, Title: "t", Body: "b"})
	if r.Verdict != push.TokenInvalid || len(r.InvalidTokens) != 2 {
		t.Errorf("batch of invalid tokens: %+v", r)
	}
	// A token the vendor calls dead through a fault.
	if err := s.SetFault(vendorsim.Fault{Provider: push.Vivo, Token: "reg-gone", Status: 410, Reason: "10302"}); err != nil {
		t.Fatal(err)
	}
	r = c.Send(ctx, &push.Notification{Tokens: []string{"reg-c", "reg-gone"}, Title: "t", Body: "b"})
	if r.Verdict != push.Delivered || !reflect.DeepEqual(r.InvalidTokens, []string{"reg-gone"}) {
		t.Errorf("batch with a faulted dead token: %+v", r)
	}
	r = c.Send(ctx, &push.Notification{Token: "reg-gone", Title: "t", Body: "b"})
	if r.Verdict != push.TokenInvalid {
		t.Errorf("faulted dead token: %+v", r)
	}
	s.ClearFaults()

	// A 503 with Retry-After.
	if err := s.SetFault(vendorsim.Fault{Provider: push.Vivo, Status: 503, RetryAfter: 3 * time.Second, Times: 1}); err != nil {
		t.Fatal(err)
	}
	r = c.Send(ctx, &push.Notification{Token: "reg-1", Title: "t", Body: "b"})
	if r.Verdict != push.Retry || r.RetryAfter != 3*time.Second || r.Status != 503 {
		t.Errorf("503 fault: %+v", r)
	}
}

func TestQuotaAgainstSimulator(t *testing.T) {
	// 23:30 China time.
	clk := vendortest.NewClock(time.Date(2025, 6, 1, 15, 30, 0, 0, time.UTC))
	s, o := startSim(t, clk)
	o.Classification = intPtr(0) // operations messages are the capped ones
	c := newSimClient(t, o)
	ctx := context.Background()
	s.SetDailyQuota(push.Vivo, 4)
	send := func(n push.Notification) push.Result {
		n.Title, n.Body = "t", "b"
		return c.Send(ctx, &n)
	}

	if r := send(push.Notification{Tokens: []string{"a", "b", "c"}}); r.Verdict != push.Delivered {
		t.Fatalf("batch within the quota: %+v", r)
	}
	if r := send(push.Notification{Token: "d"}); r.Verdict != push.Delivered {
		t.Fatalf("fourth: %+v", r)
	}
	r := send(push.Notification{Token: "e"})
	if r.Verdict != push.QuotaExhausted || !strings.HasPrefix(r.Reason, "10070") {
		t.Fatalf("fifth: %+v, want quota exhausted", r)
	}
	if r := send(push.Notification{Tokens: []string{"e", "f"}}); r.Verdict != push.QuotaExhausted {
		t.Fatalf("batch past the quota: %+v", r)
	}
	// A system message is not capped.
	if r := send(push.Notification{Token: "e", Classification: intPtr(1)}); r.Verdict != push.Delivered {
		t.Fatalf("system message past the quota: %+v", r)
	}

	// At midnight China time (both clocks move) the quota is back.
	clk.Advance(31 * time.Minute)
	if r := send(push.Notification{Token: "e"}); r.Verdict != push.Delivered {
		t.Fatalf("next day: %+v", r)
	}
}

func TestAuthAgainstSimulator(t *testing.T) {
	clk := vendortest.NewClock(time.Now())
	s, o := startSim(t, clk)
	ctx := context.Background()
	n := func() *push.Notification { return &push.Notification{Token: "reg-1", Title: "t", Body: "b"} }

	// A wrong secret: the sign is refused, nothing is sent.
	bad := o
	bad.AppSecret = "not-the-secret"
	r := newSimClient(t, bad).Send(ctx, n())
	if r.Verdict != push.BadRequest || !strings.HasPrefix(r.Reason, "AuthError: ") || r.Exchange == nil ||
		!strings.HasSuffix(r.Exchange.URL, "/message/auth") {
		t.Fatalf("wrong secret: %+v", r)
	}
	// A clock 20 minutes off: the timestamp is refused.
	skewed := o
	skewed.Now = func() time.Time { return clk.Now().Add(20 * time.Minute) }
	if r := newSimClient(t, skewed).Send(ctx, n()); r.Verdict != push.BadRequest {
		t.Fatalf("skewed clock: %+v", r)
	}
	if recs := s.Records(push.Vivo); len(recs) != 0 {
		t.Fatalf("%d sends without a good authToken", len(recs))
	}

	c := newSimClient(t, o)
	if r := c.Send(ctx, n()); r.Verdict != push.Delivered {
		t.Fatalf("good credentials: %+v", r)
	}
	// The simulator forgets its tokens: vivo's 10000, then a refresh works.
	s.ExpireAccessTokens()
	r = c.Send(ctx, n())
	if r.Verdict != push.AuthExpired || !strings.HasPrefix(r.Reason, "10000") {
		t.Fatalf("expired token: %+v", r)
	}
	c.Refresh()
	if r := c.Send(ctx, n()); r.Verdict != push.Delivered {
		t.Fatalf("after Refresh: %+v", r)
	}
	// A day later on both clocks the client has moved to a new token by itself.
	clk.Advance(25 * time.Hour)
	if r := c.Send(ctx, n()); r.Verdict != push.Delivered {
		t.Fatalf("a day later: %+v", r)
	}
	// Many concurrent sends after a refresh share one new token.
	c.Refresh()
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := c.Send(ctx, &push.Notification{Token: fmt.Sprint("reg-c", i), Title: "t", Body: "b"}); r.Verdict != push.Delivered {
				t.Errorf("concurrent send: %+v", r)
			}
		}()
	}
	wg.Wait()
	tokens := map[string]bool{}
	for _, rec := range s.Records(push.Vivo) {
		if strings.HasPrefix(rec.Token, "reg-c") {
			tokens[rec.Headers["authtoken"]] = true
		}
	}
	if len(tokens) != 1 {
		t.Errorf("20 concurrent sends used %d authTokens, want 1", len(tokens))
	}
}
