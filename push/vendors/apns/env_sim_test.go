package apns_test

import (
	"context"
	"testing"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/apns"
	"github.com/pushd-im/pushd/push/vendorsim"
)

func TestSimulatorAutoEnvironment(t *testing.T) {
	s, c := simClient(t)
	send := func(tok, env string) push.Result {
		t.Helper()
		return c.Send(context.Background(), &push.Notification{Token: tok, APNsEnv: env, Title: "Ada", Body: "hi"})
	}
	paths := func(tok string) []string {
		var out []string
		for _, r := range s.Records(push.APNs) {
			if r.Token == tok {
				out = append(out, r.Path)
			}
		}
		return out
	}
	sandboxTok, prodTok := s.APNsToken(true), s.APNsToken(false)

	// Without auto a sandbox token bound as production is refused, as before.
	if r := send(sandboxTok, apns.EnvProduction); r.Verdict != push.TokenInvalid || r.Reason != "BadDeviceToken" {
		t.Fatalf("sandbox token as production: %+v", r)
	}
	s.Reset()

	// auto: production refuses it, the sandbox takes it, and the next push
	// goes straight to the sandbox.
	if r := send(sandboxTok, apns.EnvAuto); r.Verdict != push.Delivered || r.Exchange.URL != s.APNsSandboxEndpoint()+"/3/device/"+sandboxTok {
		t.Fatalf("sandbox token with auto: %+v", r)
	}
	if got := paths(sandboxTok); len(got) != 2 || got[0] != "/3/device/"+sandboxTok || got[1] != "/sandbox/3/device/"+sandboxTok {
		t.Fatalf("first auto push went to %v; want production, then the sandbox", got)
	}
	if r := send(sandboxTok, apns.EnvAuto); r.Verdict != push.Delivered {
		t.Fatalf("second auto push: %+v", r)
	}
	if got := paths(sandboxTok); len(got) != 3 || got[2] != "/sandbox/3/device/"+sandboxTok {
		t.Fatalf("second auto push went to %v; want the sandbox only", got[2:])
	}

	// A production token takes one request.
	if r := send(prodTok, apns.EnvAuto); r.Verdict != push.Delivered {
		t.Fatalf("production token with auto: %+v", r)
	}
	if got := paths(prodTok); len(got) != 1 || got[0] != "/3/device/"+prodTok {
		t.Fatalf("production token's auto push went to %v", got)
	}

	// A token both environments refuse is invalid, after one try each.
	dead := "abc" // odd length: no environment takes it
	if r := send(dead, apns.EnvAuto); r.Verdict != push.TokenInvalid || r.Reason != "BadDeviceToken" {
		t.Fatalf("dead token with auto: %+v", r)
	}
	if got := paths(dead); len(got) != 2 {
		t.Fatalf("dead token's auto push went to %v; want both environments once", got)
	}

	// Another refusal is not retried elsewhere: the environment is not the problem.
	if err := s.SetFault(vendorsim.Fault{Provider: push.APNs, Token: prodTok, Status: 410}); err != nil {
		t.Fatal(err)
	}
	if r := send(prodTok, apns.EnvAuto); r.Verdict != push.TokenInvalid || r.Status != 410 {
		t.Fatalf("unregistered token with auto: %+v", r)
	}
	if got := paths(prodTok); len(got) != 2 {
		t.Fatalf("unregistered token's auto push went to %v; want production alone", got)
	}
}

func TestAutoDryRunShowsOneRequest(t *testing.T) {
	s, c := simClient(t)
	r := c.Send(context.Background(), &push.Notification{Token: s.APNsToken(true), APNsEnv: apns.EnvAuto, Title: "x", DryRun: true})
	if r.Exchange == nil || r.Exchange.URL[:len(s.Endpoint(push.APNs))] != s.Endpoint(push.APNs) || s.Count(push.APNs) != 0 {
		t.Fatalf("dry run: %+v, %d requests", r, s.Count(push.APNs))
	}
}
