package hms_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/hms"
	"github.com/pushd-im/pushd/push/vendors/internal/vendortest"
	"github.com/pushd-im/pushd/push/vendorsim"
)

// These tests run the client against the real simulator, in process.

type simEnv struct {
	sim    *vendorsim.Sim
	clock  *vendortest.Clock
	caFile string
	creds  *vendorsim.Credentials
}

// startSim runs a simulator on loopback with the clock at start (zero: now).
func startSim(t *testing.T, start time.Time, edit func(*vendorsim.Credentials)) *simEnv {
	t.Helper()
	creds := *vendortest.SimCredentials(t)
	if edit != nil {
		edit(&creds)
	}
	if start.IsZero() {
		start = time.Now()
	}
	clk := vendortest.NewClock(start)
	s, ca := vendortest.StartSim(t, &creds, clk.Now)
	return &simEnv{sim: s, clock: clk, caFile: ca, creds: &creds}
}

// client makes a Client for the simulator's app, on the simulator's clock.
func (e *simEnv) client(t *testing.T, edit func(*hms.Options)) *hms.Client {
	t.Helper()
	o := hms.Options{
		ClientID: e.creds.HMS.ClientID, ClientSecret: e.creds.HMS.ClientSecret,
		Endpoint: e.sim.Endpoint(push.HMS), AuthEndpoint: e.sim.AuthEndpoint(push.HMS),
		CAFile: e.caFile, Timeout: 10 * time.Second, Now: e.clock.Now,
	}
	return vendortest.NewClient(t, hms.New, o, edit)
}

func tokens(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%04d-IQAAAACy0kYAAAAA", prefix, i)
	}
	return out
}

func TestSimulatorSingleAndBatch(t *testing.T) {
	e := startSim(t, time.Time{}, nil)
	c := e.client(t, nil)
	ctx := context.Background()

	// Every field at once, which the simulator checks against Huawei's rules.
	r := c.Send(ctx, &push.Notification{
		ID: "41", Token: "tok-single", Title: "Ada", Body: "hello", Payload: `{"m":1}`, Badge: 3, Sound: "/raw/ping",
		ChannelID: "im", Category: "IM", Importance: "NORMAL", Priority: push.PriorityHigh, CollapseID: "m1",
		Expiration: e.clock.Now().Add(2 * time.Hour),
		Data:       map[string]string{"message_id": "m1", hms.BadgeClassKey: "im.pushd.demo.MainActivity"},
	})
	if r.Verdict != push.Delivered || r.Reason != "80000000" {
		t.Fatalf("single: %+v (answer %s)", r, r.Exchange.Answer)
	}
	if recs := e.sim.Delivered(push.HMS, "tok-single"); len(recs) != 1 || recs[0].Token != "tok-single" {
		t.Fatalf("records for the single send: %+v", recs)
	}

	// A pass-through message.
	r = c.Send(ctx, &push.Notification{Token: "tok-data", Passthrough: true, Payload: "p", Priority: push.PriorityLow})
	if r.Verdict != push.Delivered {
		t.Fatalf("pass-through: %+v (answer %s)", r, r.Exchange.Answer)
	}

	// 1000 tokens are one request and one record.
	batch := tokens("b", 1000)
	before := len(e.sim.Records(push.HMS))
	r = c.Send(ctx, &push.Notification{Tokens: batch, Title: "Group", Body: "hi all", Category: "IM"})
	if r.Verdict != push.Delivered || len(r.InvalidTokens) != 0 {
		t.Fatalf("batch: %+v", r)
	}
	recs := e.sim.Records(push.HMS)
	if len(recs) != before+1 {
		t.Fatalf("%d records for one batch, want 1", len(recs)-before)
	}
	if got := recs[len(recs)-1]; !reflect.DeepEqual(got.Tokens, batch) || got.Status != 200 {
		t.Fatalf("batch record: %d tokens, status %d", len(got.Tokens), got.Status)
	}
	if n := e.sim.Count(push.HMS); n != 1002 {
		t.Errorf("simulator counted %d pushes, want 1002", n)
	}
}

func TestSimulatorInvalidTokens(t *testing.T) {
	e := startSim(t, time.Time{}, nil)
	c := e.client(t, nil)
	ctx := context.Background()
	if err := e.sim.SetFault(vendorsim.Fault{Provider: push.HMS, Token: "tok-uninstalled", Status: 400, Reason: "80300007"}); err != nil {
		t.Fatal(err)
	}

	batch := append(tokens("ok", 5), "invalid-1", "tok-uninstalled")
	r := c.Send(ctx, &push.Notification{Tokens: batch, Title: "a", Body: "b"})
	if r.Verdict != push.Delivered || !reflect.DeepEqual(r.InvalidTokens, []string{"invalid-1", "tok-uninstalled"}) {
		t.Fatalf("partial success: %+v (answer %s)", r, r.Exchange.Answer)
	}
	rec := e.sim.Records(push.HMS)[0]
	if !reflect.DeepEqual(rec.InvalidTokens, r.InvalidTokens) || len(rec.Tokens) != 7 {
		t.Errorf("record invalid %v of %d tokens", rec.InvalidTokens, len(rec.Tokens))
	}

	if r := c.Send(ctx, &push.Notification{Token: "invalid-2", Title: "a", Body: "b"}); r.Verdict != push.TokenInvalid || r.Reason != "80300007" {
		t.Errorf("single invalid token: %+v", r)
	}
	if r := c.Send(ctx, &push.Notification{Token: "tok-uninstalled", Title: "a", Body: "b"}); r.Verdict != push.TokenInvalid {
		t.Errorf("single token with an invalid-token fault: %+v", r)
	}
	// A whole batch called invalid is not believed.
	r = c.Send(ctx, &push.Notification{Tokens: []string{"invalid-3", "invalid-4"}, Title: "a", Body: "b"})
	if r.Verdict != push.BadRequest || len(r.InvalidTokens) != 0 || !strings.Contains(r.Reason, "check client_id/package") {
		t.Errorf("all-invalid batch: %+v", r)
	}
}

func TestSimulatorDailyQuota(t *testing.T) {
	// 15:00 UTC is 23:00 in China: the quota day ends in an hour.
	e := startSim(t, time.Date(2025, 6, 1, 15, 0, 0, 0, time.UTC), nil)
	c := e.client(t, nil)
	ctx := context.Background()
	e.sim.SetDailyQuota(push.HMS, 2)
	send := func(tok, category string) push.Result {
		return c.Send(ctx, &push.Notification{Token: tok, Title: "a", Body: "b", Category: category})
	}
	for _, tok := range []string{"q1", "q2"} {
		if r := send(tok, ""); r.Verdict != push.Delivered {
			t.Fatalf("within the quota: %+v", r)
		}
	}
	// Past the quota: Huawei's flow control, to retry when the China day turns.
	r := send("q3", "MARKETING")
	if r.Verdict != push.Retry || r.Status != 503 || r.RetryAfter != time.Hour || !strings.Contains(r.Reason, "daily push quota") {
		t.Fatalf("over the quota: %+v", r)
	}
	// IM messages are not capped.
	if r := send("q4", "IM"); r.Verdict != push.Delivered {
		t.Fatalf("IM over the quota: %+v", r)
	}
	// The next China day has a fresh quota (the access token is renewed on the way).
	e.clock.Advance(59 * time.Minute)
	if r := send("q5", ""); r.Verdict != push.Retry {
		t.Fatalf("at 23:59 China time: %+v", r)
	}
	e.clock.Advance(time.Minute)
	if r := send("q6", ""); r.Verdict != push.Delivered {
		t.Fatalf("the next day: %+v", r)
	}
}

func TestSimulatorRefusesWrongSecret(t *testing.T) {
	e := startSim(t, time.Time{}, nil)
	c := e.client(t, func(o *hms.Options) { o.ClientSecret = "not-the-secret" })
	r := c.Send(context.Background(), &push.Notification{Token: "t", Title: "a", Body: "b"})
	if r.Verdict != push.BadRequest || r.Reason != "OAuthTokenError: 1101/12304 invalid client_secret" {
		t.Errorf("wrong secret: %+v", r)
	}
	c = e.client(t, func(o *hms.Options) { o.ClientID = "10000001" })
	if r := c.Send(context.Background(), &push.Notification{Token: "t", Title: "a", Body: "b"}); r.Verdict != push.BadRequest {
		t.Errorf("wrong client id: %+v", r)
	}
	if n := len(e.sim.Records(push.HMS)); n != 0 {
		t.Errorf("%d sends reached the simulator without a token", n)
	}
}

func TestSimulatorSecretIsURLEncoded(t *testing.T) {
	e := startSim(t, time.Time{}, func(c *vendorsim.Credentials) { c.HMS.ClientSecret = "a+b/c=d&e%f g" })
	c := e.client(t, nil)
	if r := c.Send(context.Background(), &push.Notification{Token: "t", Title: "a", Body: "b"}); r.Verdict != push.Delivered {
		t.Errorf("secret with reserved characters: %+v", r)
	}
}

func TestSimulatorAccessTokenExpiry(t *testing.T) {
	e := startSim(t, time.Time{}, nil)
	c := e.client(t, nil)
	ctx := context.Background()
	send := func() push.Result { return c.Send(ctx, &push.Notification{Token: "t", Title: "a", Body: "b"}) }
	if r := send(); r.Verdict != push.Delivered {
		t.Fatalf("first send: %+v", r)
	}
	// Tokens age on the shared clock: the client renews before the simulator refuses.
	e.clock.Advance(2 * time.Hour)
	if r := send(); r.Verdict != push.Delivered {
		t.Fatalf("two hours later: %+v", r)
	}
	// Revoked early, the token is answered with 80200003.
	e.sim.ExpireAccessTokens()
	r := send()
	if r.Verdict != push.AuthExpired || r.Reason != "80200003" || r.Status != 401 {
		t.Fatalf("after ExpireAccessTokens: %+v", r)
	}
	c.Refresh()
	if r := send(); r.Verdict != push.Delivered {
		t.Fatalf("after Refresh: %+v", r)
	}
}
