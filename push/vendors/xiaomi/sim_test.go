package xiaomi_test

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/internal/vendortest"
	"github.com/pushd-im/pushd/push/vendors/xiaomi"
	"github.com/pushd-im/pushd/push/vendorsim"
)

// startSim runs the real simulator on loopback with clock and returns it with
// the path of a file holding its CA.
func startSim(t *testing.T, clock *vendortest.Clock) (*vendorsim.Sim, string) {
	t.Helper()
	return vendortest.StartSim(t, vendortest.SimCredentials(t), clock.Now)
}

// simClient is a client of s; edit changes its options.
func simClient(t *testing.T, s *vendorsim.Sim, ca string, clock *vendortest.Clock, edit func(*xiaomi.Options)) *xiaomi.Client {
	t.Helper()
	o := xiaomi.Options{
		AppSecret:   s.Credentials().Xiaomi.AppSecret,
		PackageName: s.Credentials().Xiaomi.PackageName,
		Endpoint:    s.Endpoint(push.Xiaomi),
		ChannelID:   vendorsim.XiaomiPrivateChannelID,
		CAFile:      ca,
		Timeout:     10 * time.Second,
		Now:         clock.Now,
	}
	return vendortest.NewClient(t, xiaomi.New, o, edit)
}

func regIDs(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s%04d", prefix, i)
	}
	return ids
}

func TestAgainstSimSingleAndBatch(t *testing.T) {
	clock := vendortest.NewClock(time.Date(2025, 3, 10, 4, 0, 0, 0, time.UTC))
	s, ca := startSim(t, clock)
	c := simClient(t, s, ca, clock, nil)

	r := c.Send(context.Background(), &push.Notification{
		ID: "7", Token: "regid-single", Title: "Ada", Body: "hello", Payload: `{"m":1}`, Badge: 5, BadgeAdd: 1, Sound: "ring",
		CollapseID: "msg-1", Expiration: clock.Now().Add(time.Hour), Data: map[string]string{"message_id": "m1"},
	})
	if r.Verdict != push.Delivered || r.Status != 200 {
		t.Fatalf("single: %+v", r)
	}
	recs := s.Delivered(push.Xiaomi, "regid-single")
	if len(recs) != 1 {
		t.Fatalf("%d records delivered to the single id", len(recs))
	}
	form, err := url.ParseQuery(string(recs[0].Body))
	if err != nil || form.Get("time_to_live") != "3600000" || form.Get("extra.channel_id") != vendorsim.XiaomiPrivateChannelID ||
		form.Get("notify_id") != fmt.Sprint(xiaomi.NotifyID("msg-1")) || form.Get("payload") != `{"m":1}` {
		t.Fatalf("the Sim received %v (%v)", form, err)
	}

	ids := regIDs("regid-", 1000)
	r = c.Send(context.Background(), &push.Notification{Tokens: ids, Title: "Ada", Body: "to many"})
	if r.Verdict != push.Delivered || len(r.InvalidTokens) != 0 {
		t.Fatalf("batch: %+v", r)
	}
	recs = s.Records(push.Xiaomi)
	if len(recs) != 2 || !slices.Equal(recs[1].Tokens, ids) || !recs[1].Delivered("regid-0999") {
		t.Fatalf("%d records; the batch should be one record with all 1000 ids", len(recs))
	}
	if n := s.Count(push.Xiaomi); n != 1001 {
		t.Fatalf("Count = %d, want 1001", n)
	}

	// A pass-through message.
	r = c.Send(context.Background(), &push.Notification{Token: "regid-data", Passthrough: true, Payload: "p"})
	if r.Verdict != push.Delivered {
		t.Fatalf("pass-through: %+v", r)
	}
}

func TestAgainstSimInvalidTokens(t *testing.T) {
	clock := vendortest.NewClock(time.Date(2025, 3, 10, 4, 0, 0, 0, time.UTC))
	s, ca := startSim(t, clock)
	c := simClient(t, s, ca, clock, nil)

	ids := regIDs("regid-", 10)
	ids[3], ids[7] = "invalid-3", "invalid-7"
	if err := s.SetFault(vendorsim.Fault{Provider: push.Xiaomi, Token: "regid-0005", Status: 400, Reason: "20301"}); err != nil {
		t.Fatal(err)
	}
	r := c.Send(context.Background(), &push.Notification{Tokens: ids, Title: "t", Body: "b"})
	got := slices.Sorted(slices.Values(r.InvalidTokens))
	if r.Verdict != push.Delivered || !slices.Equal(got, []string{"invalid-3", "invalid-7", "regid-0005"}) {
		t.Fatalf("batch: %s %v, want delivered with three dead ids", r.Verdict, r.InvalidTokens)
	}
	if rec := s.Records(push.Xiaomi)[0]; len(rec.InvalidTokens) != 3 || s.Count(push.Xiaomi) != 7 {
		t.Fatalf("record invalid %v, Count %d", rec.InvalidTokens, s.Count(push.Xiaomi))
	}

	r = c.Send(context.Background(), &push.Notification{Token: "invalid-x", Title: "t", Body: "b"})
	if r.Verdict != push.TokenInvalid || !strings.HasPrefix(r.Reason, "20301") || !slices.Equal(r.InvalidTokens, []string{"invalid-x"}) {
		t.Fatalf("single invalid: %+v", r)
	}
	r = c.Send(context.Background(), &push.Notification{Tokens: []string{"invalid-a", "regid-0005"}, Title: "t", Body: "b"})
	if r.Verdict != push.TokenInvalid || len(r.InvalidTokens) != 2 {
		t.Fatalf("all invalid batch: %+v", r)
	}
}

func TestAgainstSimDailyQuota(t *testing.T) {
	// 22:00 in China.
	clock := vendortest.NewClock(time.Date(2025, 3, 10, 14, 0, 0, 0, time.UTC))
	s, ca := startSim(t, clock)
	s.SetDailyQuota(push.Xiaomi, 3)
	public := simClient(t, s, ca, clock, func(o *xiaomi.Options) { o.ChannelID = "" })
	private := simClient(t, s, ca, clock, nil)
	send := func(c *xiaomi.Client, ids ...string) push.Result {
		return c.Send(context.Background(), &push.Notification{Tokens: ids, Title: "t", Body: "b"})
	}

	if r := send(public, "a", "b", "c"); r.Verdict != push.Delivered {
		t.Fatalf("within the quota: %+v", r)
	}
	r := send(public, "d")
	if r.Verdict != push.QuotaExhausted || !strings.HasPrefix(r.Reason, "200001") {
		t.Fatalf("past the quota: %+v, want quota exhausted", r)
	}
	// The private channel is not counted.
	if r := send(private, "d", "e", "f", "g"); r.Verdict != push.Delivered {
		t.Fatalf("private channel: %+v", r)
	}
	// 23:59 in China: still today.
	clock.Advance(time.Hour + 59*time.Minute)
	if r := send(public, "d"); r.Verdict != push.QuotaExhausted {
		t.Fatalf("before midnight: %+v", r)
	}
	// The next China day.
	clock.Advance(2 * time.Minute)
	if r := send(public, "d", "e", "f"); r.Verdict != push.Delivered {
		t.Fatalf("the next day: %+v, want delivered", r)
	}
}

func TestAgainstSimWrongSecret(t *testing.T) {
	clock := vendortest.NewClock(time.Now())
	s, ca := startSim(t, clock)
	c := simClient(t, s, ca, clock, func(o *xiaomi.Options) { o.AppSecret = "not-the-secret-at-all" })
	r := c.Send(context.Background(), &push.Notification{Token: "regid-1", Title: "t", Body: "b"})
	if r.Verdict != push.BadRequest || !strings.HasPrefix(r.Reason, "21301") || r.Status != 200 {
		t.Fatalf("wrong secret: %+v, want bad request 21301", r)
	}
	c.Refresh() // a static key: nothing changes
	if r := c.Send(context.Background(), &push.Notification{Token: "regid-1", Title: "t", Body: "b"}); r.Verdict != push.BadRequest {
		t.Fatalf("after Refresh: %+v", r)
	}
	if len(s.Delivered(push.Xiaomi, "regid-1")) != 0 || s.Count(push.Xiaomi) != 0 {
		t.Fatal("the Sim delivered with a wrong secret")
	}

	// A wrong package is refused too.
	c = simClient(t, s, ca, clock, func(o *xiaomi.Options) { o.PackageName = "com.other.app" })
	if r := c.Send(context.Background(), &push.Notification{Token: "regid-1", Title: "t", Body: "b"}); r.Verdict != push.BadRequest {
		t.Fatalf("wrong package: %+v", r)
	}
}

func TestAgainstSimFaults(t *testing.T) {
	clock := vendortest.NewClock(time.Now())
	s, ca := startSim(t, clock)
	c := simClient(t, s, ca, clock, nil)
	if err := s.SetFault(vendorsim.Fault{Provider: push.Xiaomi, Status: 503, RetryAfter: 7 * time.Second, Times: 1}); err != nil {
		t.Fatal(err)
	}
	r := c.Send(context.Background(), &push.Notification{Token: "regid-1", Title: "t", Body: "b"})
	if r.Verdict != push.Retry || r.Status != 503 || r.RetryAfter != 7*time.Second {
		t.Fatalf("503 fault: %+v", r)
	}
	if r := c.Send(context.Background(), &push.Notification{Token: "regid-1", Title: "t", Body: "b"}); r.Verdict != push.Delivered {
		t.Fatalf("after the fault: %+v", r)
	}
}
