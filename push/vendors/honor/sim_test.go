package honor_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/honor"
	"github.com/pushd-im/pushd/push/vendors/internal/vendortest"
	"github.com/pushd-im/pushd/push/vendorsim"
)

// These tests run the client against the simulator, in process, with the
// app the simulator's providers block describes.

type simEnv struct {
	sim   *vendorsim.Sim
	clock *vendortest.Clock
	conf  honor.Config
}

func startSim(t *testing.T) *simEnv {
	t.Helper()
	clk := vendortest.NewClock(time.Now())
	s, _ := vendortest.StartSim(t, vendortest.SimCredentials(t), clk.Now)
	dir := t.TempDir()
	if err := s.Credentials().Save(dir); err != nil {
		t.Fatal(err)
	}
	var block struct {
		Providers struct {
			Honor honor.Config `yaml:"honor"`
		} `yaml:"providers"`
	}
	if err := yaml.Unmarshal([]byte(s.ConfigYAML(dir)), &block); err != nil {
		t.Fatal(err)
	}
	return &simEnv{sim: s, clock: clk, conf: block.Providers.Honor}
}

func (e *simEnv) client(t *testing.T, edit func(*honor.Options)) *honor.Client {
	t.Helper()
	c := e.conf
	o := honor.Options{AppID: c.AppID, ClientID: c.ClientID, ClientSecret: c.ClientSecret, Endpoint: c.Endpoint,
		AuthEndpoint: c.AuthEndpoint, Category: c.Category, CAFile: c.CAFile, Timeout: 10 * time.Second, Now: e.clock.Now}
	return vendortest.NewClient(t, honor.New, o, edit)
}

func TestSimulatorDelivers(t *testing.T) {
	e := startSim(t)
	c := e.client(t, nil)
	ctx := context.Background()

	r := c.Send(ctx, &push.Notification{ID: "7", Token: "tok-1", Title: "Ada", Body: "hi", Payload: `{"m":1}`, Badge: 2,
		Expiration: e.clock.Now().Add(time.Hour), Data: map[string]string{"message_id": "m1"}})
	if r.Verdict != push.Delivered {
		t.Fatalf("single: %+v (answer %s)", r, r.Exchange.Answer)
	}
	recs := e.sim.Delivered(honor.Provider, "tok-1")
	if len(recs) != 1 || recs[0].Headers["timestamp"] == "" || !strings.Contains(string(recs[0].Body), `"importance":"NORMAL"`) {
		t.Fatalf("record %+v", recs)
	}
	if strings.Contains(string(recs[0].Body), `"badge"`) {
		t.Errorf("a badge without a badge class configured: %s", recs[0].Body)
	}
	// With the app's badge class the badge sets the icon's number.
	withClass := e.client(t, func(o *honor.Options) { o.BadgeClass = "com.example.Main" })
	if r = withClass.Send(ctx, &push.Notification{Token: "tok-badge", Title: "Ada", Body: "hi", Badge: 4}); r.Verdict != push.Delivered {
		t.Fatalf("badge: %+v (answer %s)", r, r.Exchange.Answer)
	}
	if recs = e.sim.Delivered(honor.Provider, "tok-badge"); len(recs) != 1 ||
		!strings.Contains(string(recs[0].Body), `"badge":{"setNum":4,"badgeClass":"com.example.Main"}`) {
		t.Fatalf("badge record %+v", recs)
	}

	// A batch with dead tokens: delivered, the dead ones named.
	toks := []string{"tok-a", "invalid-b", "tok-c", "invalid-d"}
	r = c.Send(ctx, &push.Notification{Tokens: toks, Title: "T", Body: "B"})
	if r.Verdict != push.Delivered || fmt.Sprint(r.InvalidTokens) != "[invalid-b invalid-d]" {
		t.Fatalf("batch: %+v", r)
	}
	// A data message.
	if r = c.Send(ctx, &push.Notification{Token: "tok-data", Passthrough: true, Payload: "p"}); r.Verdict != push.Delivered {
		t.Fatalf("data: %+v (answer %s)", r, r.Exchange.Answer)
	}
	// The one token dead.
	if r = c.Send(ctx, &push.Notification{Token: "invalid-x", Title: "T", Body: "B"}); r.Verdict != push.TokenInvalid {
		t.Fatalf("dead token: %+v", r)
	}
	// A dry run shows the request, the access token masked, and sends nothing.
	before := e.sim.Count(honor.Provider)
	r = c.Send(ctx, &push.Notification{Token: "tok-dry", Title: "T", Body: "B", DryRun: true})
	if r.Exchange == nil || !strings.Contains(r.Exchange.Headers["authorization"], "Bearer ") || e.sim.Count(honor.Provider) != before {
		t.Fatalf("dry run: %+v", r)
	}
}

func TestSimulatorAuth(t *testing.T) {
	e := startSim(t)
	c := e.client(t, nil)
	ctx := context.Background()
	n := &push.Notification{Token: "tok-1", Title: "T", Body: "B"}
	if r := c.Send(ctx, n); r.Verdict != push.Delivered {
		t.Fatalf("first: %+v", r)
	}
	// Honor forgets the access token: auth_expired, and the next send fetches a new one.
	e.sim.ExpireAccessTokens()
	if r := c.Send(ctx, n); r.Verdict != push.AuthExpired {
		t.Fatalf("expired token: %+v", r)
	}
	c.Refresh()
	if r := c.Send(ctx, n); r.Verdict != push.Delivered {
		t.Fatalf("after refresh: %+v", r)
	}
	// A wrong secret is a configuration error, not a retry.
	bad := e.client(t, func(o *honor.Options) { o.ClientSecret = "wrong" })
	if r := bad.Send(ctx, n); r.Verdict != push.BadRequest || !strings.Contains(r.Reason, "invalid_client") {
		t.Fatalf("wrong secret: %+v", r)
	}
}

func TestSimulatorFaultsAndQuota(t *testing.T) {
	e := startSim(t)
	ctx := context.Background()
	c := e.client(t, func(o *honor.Options) { o.Category = "" }) // marketing: counted
	if err := e.sim.SetFault(vendorsim.Fault{Provider: honor.Provider, Token: "tok-f", Status: http.StatusInternalServerError, Times: 1}); err != nil {
		t.Fatal(err)
	}
	if r := c.Send(ctx, &push.Notification{Token: "tok-f", Title: "T", Body: "B"}); r.Verdict != push.Retry {
		t.Fatalf("injected 500: %+v", r)
	}
	e.sim.SetDailyQuota(honor.Provider, 1)
	if r := c.Send(ctx, &push.Notification{Token: "tok-1", Title: "T", Body: "B"}); r.Verdict != push.Delivered {
		t.Fatalf("within the quota: %+v", r)
	}
	if r := c.Send(ctx, &push.Notification{Token: "tok-2", Title: "T", Body: "B"}); r.Verdict != push.Retry || r.RetryAfter <= 0 {
		t.Fatalf("past the quota: %+v", r)
	}
	// IM pushes go as communication messages, which are not capped.
	if r := c.Send(ctx, &push.Notification{Token: "tok-3", Title: "T", Body: "B", Category: "IM"}); r.Verdict != push.Delivered {
		t.Fatalf("IM past the quota: %+v", r)
	}
}

func TestLocalRefusals(t *testing.T) {
	e := startSim(t)
	c := e.client(t, nil)
	many := make([]string, honor.MaxTokens+1)
	for i := range many {
		many[i] = fmt.Sprint("t", i)
	}
	for _, tc := range []struct {
		n    push.Notification
		want string
	}{
		{push.Notification{Title: "T", Body: "B"}, "MissingToken"},
		{push.Notification{Tokens: many, Title: "T", Body: "B"}, "TooManyTokens"},
		{push.Notification{Token: "t", Body: "B"}, "MissingTitleOrBody"},
		{push.Notification{Token: "t", Title: "T", Body: strings.Repeat("x", 5000)}, "PayloadTooLarge"},
		{push.Notification{Token: "t", Title: "T", Body: "B", Expiration: e.clock.Now().Add(-time.Second)}, "Expired"},
	} {
		if r := c.Send(context.Background(), &tc.n); r.Verdict != push.BadRequest || !strings.HasPrefix(r.Reason, tc.want) {
			t.Errorf("%s: %+v", tc.want, r)
		}
	}
	if e.sim.Count(honor.Provider) != 0 {
		t.Fatal("a refused push reached the simulator")
	}
	vendortest.Refuses(t, honor.New, honor.Options{AppID: "a/b"}, honor.ErrInvalidOptions, "AppID", "ClientID")
}
