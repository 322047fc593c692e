package oppo_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/internal/vendortest"
	"github.com/pushd-im/pushd/push/vendors/oppo"
	"github.com/pushd-im/pushd/push/vendorsim"
)

var china = time.FixedZone("CST", 8*3600)

// startSim runs the real simulator on clk, and returns it with a CA file that
// trusts it.
func startSim(t *testing.T, clk *vendortest.Clock) (*vendorsim.Sim, string) {
	t.Helper()
	return vendortest.StartSim(t, vendortest.SimCredentials(t), clk.Now)
}

func simClient(t *testing.T, s *vendorsim.Sim, caFile string, clk *vendortest.Clock, edit func(o *oppo.Options)) *oppo.Client {
	t.Helper()
	creds := s.Credentials()
	o := oppo.Options{
		AppKey: creds.OPPO.AppKey, MasterSecret: creds.OPPO.MasterSecret,
		Endpoint: s.Endpoint(push.OPPO), AuthEndpoint: s.AuthEndpoint(push.OPPO),
		Category: "IM", CAFile: caFile, Timeout: 10 * time.Second, Now: clk.Now,
	}
	return vendortest.NewClient(t, oppo.New, o, edit)
}

func note(token string) *push.Notification {
	return &push.Notification{ID: "1", Token: token, Title: "Ada", Body: "hello", Payload: `{"k":"v"}`,
		Data: map[string]string{"message_id": "m1"}, CollapseID: "m1"}
}

func TestAgainstSimulator(t *testing.T) {
	clk := vendortest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, china))
	s, ca := startSim(t, clk)
	c := simClient(t, s, ca, clk, nil)
	ctx := context.Background()

	// One token.
	if r := c.Send(ctx, note("CN_single")); r.Verdict != push.Delivered {
		t.Fatalf("single: %+v %+v", r, r.Exchange)
	}
	if recs := s.Delivered(push.OPPO, "CN_single"); len(recs) != 1 || recs[0].Path != oppo.UnicastPath {
		t.Errorf("single records = %+v", recs)
	}

	// 1000 tokens: one broadcast, one Record.
	s.Reset()
	tokens := make([]string, 1000)
	for i := range tokens {
		tokens[i] = fmt.Sprintf("CN_batch%04d", i)
	}
	n := note("")
	n.Tokens = tokens
	if r := c.Send(ctx, n); r.Verdict != push.Delivered || len(r.InvalidTokens) != 0 {
		t.Fatalf("batch: %+v", r)
	}
	recs := s.Records(push.OPPO)
	if len(recs) != 1 || recs[0].Path != oppo.BroadcastPath || !slices.Equal(recs[0].Tokens, tokens) || s.Count(push.OPPO) != 1000 {
		t.Fatalf("batch records: %d, count %d", len(recs), s.Count(push.OPPO))
	}

	// Dead tokens: "invalid-…" and one a fault calls unsubscribed.
	if err := s.SetFault(vendorsim.Fault{Provider: push.OPPO, Token: "CN_batch0003", Status: 400, Reason: "10001"}); err != nil {
		t.Fatal(err)
	}
	n.Tokens = []string{"CN_batch0001", "invalid-x", "CN_batch0002", "CN_batch0003"}
	r := c.Send(ctx, n)
	if r.Verdict != push.Delivered || !slices.Equal(r.InvalidTokens, []string{"invalid-x", "CN_batch0003"}) {
		t.Errorf("partial batch: %+v", r)
	}
	s.ClearFaults()
	if r := c.Send(ctx, note("invalid-single")); r.Verdict != push.TokenInvalid || !slices.Equal(r.InvalidTokens, []string{"invalid-single"}) {
		t.Errorf("dead single: %+v", r)
	}
	n.Tokens = []string{"invalid-1", "invalid-2"}
	if r := c.Send(ctx, n); r.Verdict != push.TokenInvalid || len(r.InvalidTokens) != 2 {
		t.Errorf("all-dead batch: %+v", r)
	}

	// The simulator's auth_token expires: AuthExpired, then Refresh fixes it.
	s.ExpireAccessTokens()
	if r := c.Send(ctx, note("CN_single")); r.Verdict != push.AuthExpired {
		t.Errorf("expired auth_token: %+v", r)
	}
	c.Refresh()
	if r := c.Send(ctx, note("CN_single")); r.Verdict != push.Delivered {
		t.Errorf("after Refresh: %+v", r)
	}
	// A day later the cached token has been replaced before the Sim expires it.
	clk.Advance(23*time.Hour + 30*time.Minute)
	if r := c.Send(ctx, note("CN_single")); r.Verdict != push.Delivered {
		t.Errorf("23.5 hours later: %+v", r)
	}
	clk.Advance(time.Hour)
	if r := c.Send(ctx, note("CN_single")); r.Verdict != push.Delivered {
		t.Errorf("24.5 hours later: %+v", r)
	}

	// No category: the simulator refuses with 67.
	bare := simClient(t, s, ca, clk, func(o *oppo.Options) { o.Category = "" })
	if r := bare.Send(ctx, note("CN_single")); r.Verdict != push.BadRequest || !strings.HasPrefix(r.Reason, "67 ") {
		t.Errorf("no category: %+v", r)
	}
}

func TestSimulatorRefusesWrongSecret(t *testing.T) {
	clk := vendortest.NewClock(time.Now())
	s, ca := startSim(t, clk)
	c := simClient(t, s, ca, clk, func(o *oppo.Options) { o.MasterSecret = "not-the-master-secret" })
	r := c.Send(context.Background(), note("CN_x"))
	if r.Verdict != push.BadRequest || !strings.HasPrefix(r.Reason, "AuthError: 16 ") {
		t.Errorf("wrong secret: %+v", r)
	}
	skewed := vendortest.NewClock(clk.Now().Add(-15 * time.Minute))
	c = simClient(t, s, ca, skewed, nil)
	if r := c.Send(context.Background(), note("CN_x")); r.Verdict != push.BadRequest || !strings.HasPrefix(r.Reason, "AuthError: 19 ") {
		t.Errorf("slow clock: %+v", r)
	}
	c = simClient(t, s, ca, clk, func(o *oppo.Options) { o.AppKey = "someone-else" })
	if r := c.Send(context.Background(), note("CN_x")); r.Verdict != push.BadRequest || !strings.HasPrefix(r.Reason, "AuthError: 14 ") {
		t.Errorf("wrong app key: %+v", r)
	}
	if len(s.Records(push.OPPO)) != 0 {
		t.Error("a send reached the simulator without auth")
	}
}

func TestSimulatorDailyQuota(t *testing.T) {
	clk := vendortest.NewClock(time.Date(2026, 3, 1, 22, 0, 0, 0, china))
	s, ca := startSim(t, clk)
	s.SetDailyQuota(push.OPPO, 5)
	public := simClient(t, s, ca, clk, func(o *oppo.Options) { o.Category = "MARKETING" })
	im := simClient(t, s, ca, clk, nil)
	ctx := context.Background()

	for i := range 3 {
		if r := public.Send(ctx, note(fmt.Sprint("CN_q", i))); r.Verdict != push.Delivered {
			t.Fatalf("public %d: %+v", i, r)
		}
	}
	batch := note("")
	batch.Tokens = []string{"CN_b1", "CN_b2"}
	if r := public.Send(ctx, batch); r.Verdict != push.Delivered {
		t.Fatalf("batch to the quota: %+v", r)
	}
	r := public.Send(ctx, note("CN_over"))
	if r.Verdict != push.QuotaExhausted || !strings.HasPrefix(r.Reason, "33 ") {
		t.Fatalf("past the quota: %+v", r)
	}
	if r := public.Send(ctx, batch); r.Verdict != push.QuotaExhausted {
		t.Errorf("batch past the quota: %+v", r)
	}
	if r := im.Send(ctx, note("CN_im")); r.Verdict != push.Delivered {
		t.Errorf("IM past the public quota: %+v", r)
	}
	// Midnight in China: a new day.
	clk.Advance(2 * time.Hour)
	if r := public.Send(ctx, note("CN_over")); r.Verdict != push.Delivered {
		t.Errorf("next day: %+v", r)
	}
}
