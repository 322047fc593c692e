package vendorsim

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pushd-im/pushd/push"
)

const otherDeviceToken = "aa00bb11cc22dd33ee44ff5566778899aa00bb11cc22dd33ee44ff5566778899"

// apnsPusher sends good APNs pushes to a Sim.
type apnsPusher struct {
	t  *testing.T
	s  *Sim
	hc *http.Client
	h  http.Header
}

func newAPNsPusher(t *testing.T, s *Sim) *apnsPusher {
	c := s.Credentials()
	return &apnsPusher{t: t, s: s, hc: client(t, s, false), h: apnsHeaders(c, apnsJWT(t, c, s.now(), nil))}
}

func (p *apnsPusher) push(token string) reply {
	p.t.Helper()
	return do(p.t, p.hc, http.MethodPost, p.s.Endpoint(push.APNs)+"/3/device/"+token, p.h, []byte(apnsBody))
}

func TestFaultPerTokenWithTimes(t *testing.T) {
	clock := newFakeClock()
	s := startSim(t, Options{Now: clock.Now})
	p := newAPNsPusher(t, s)
	if err := s.SetFault(Fault{Provider: push.APNs, Token: testDeviceToken, Status: 410, Times: 1}); err != nil {
		t.Fatal(err)
	}

	r := p.push(testDeviceToken)
	if r.status != 410 || jsonField(t, r.body, "reason") != "Unregistered" {
		t.Fatalf("faulted push: %d %s", r.status, r.body)
	}
	if ts := jsonField(t, r.body, "timestamp"); ts != float64(clock.Now().UnixMilli()) {
		t.Fatalf("timestamp %v, want %d", ts, clock.Now().UnixMilli())
	}
	if !validUUID(r.header.Get("apns-id")) {
		t.Fatalf("apns-id %q", r.header.Get("apns-id"))
	}
	if rec := lastRecord(t, s, push.APNs); rec.Status != 410 || rec.Reason != "Unregistered" || rec.Token != testDeviceToken {
		t.Fatalf("record %+v", rec)
	}
	if r := p.push(otherDeviceToken); r.status != 200 {
		t.Fatalf("other token: %d %s", r.status, r.body)
	}
	if r := p.push(testDeviceToken); r.status != 200 {
		t.Fatalf("after Times ran out: %d %s", r.status, r.body)
	}
	if got := s.Count(push.APNs); got != 2 {
		t.Fatalf("Count = %d, want 2", got)
	}
}

func TestFaultGlobalAndTokenPrecedence(t *testing.T) {
	s := startSim(t, Options{})
	p := newAPNsPusher(t, s)
	mustSetFault(t, s, Fault{Provider: push.APNs, Status: 503, Times: 2})
	mustSetFault(t, s, Fault{Provider: push.APNs, Token: otherDeviceToken, Status: 429, Reason: "TooManyRequests"})

	for i := range 2 {
		if r := p.push(testDeviceToken); r.status != 503 || jsonField(t, r.body, "reason") != "ServiceUnavailable" {
			t.Fatalf("push %d: %d %s, want 503 ServiceUnavailable", i, r.status, r.body)
		}
	}
	if r := p.push(testDeviceToken); r.status != 200 {
		t.Fatalf("after two: %d %s", r.status, r.body)
	}
	// The token fault has no Times: it stays until cleared.
	for range 3 {
		if r := p.push(otherDeviceToken); r.status != 429 || jsonField(t, r.body, "reason") != "TooManyRequests" {
			t.Fatalf("token fault: %d %s", r.status, r.body)
		}
	}
	s.ClearFaults()
	if r := p.push(otherDeviceToken); r.status != 200 {
		t.Fatalf("after ClearFaults: %d %s", r.status, r.body)
	}
}

func TestFaultDoesNotMaskAuthentication(t *testing.T) {
	s := startSim(t, Options{})
	p := newAPNsPusher(t, s)
	mustSetFault(t, s, Fault{Provider: push.APNs, Status: 410})
	p.h.Del("Authorization")
	if r := p.push(testDeviceToken); r.status != 403 || jsonField(t, r.body, "reason") != "MissingProviderToken" {
		t.Fatalf("%d %s, want 403 MissingProviderToken", r.status, r.body)
	}
}

func TestFaultFCMShapes(t *testing.T) {
	s := startSim(t, Options{})
	hc := client(t, s, false)
	tok := fcmAccessToken(t, hc, s, time.Now())

	mustSetFault(t, s, Fault{Provider: push.FCM, Token: testFCMToken, Status: 429, RetryAfter: 1500 * time.Millisecond, Times: 1})
	r := fcmSend(t, hc, s, tok, DemoProjectID, fcmMessage(testFCMToken))
	checkFCMError(t, r, 429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED")
	if got := r.header.Get("Retry-After"); got != "2" {
		t.Fatalf("Retry-After %q, want 2 (rounded up)", got)
	}

	mustSetFault(t, s, Fault{Provider: push.FCM, Token: testFCMToken, Status: 404, Times: 1})
	checkFCMError(t, fcmSend(t, hc, s, tok, DemoProjectID, fcmMessage(testFCMToken)), 404, "NOT_FOUND", "UNREGISTERED")

	mustSetFault(t, s, Fault{Provider: push.FCM, Status: 503, Times: 1})
	checkFCMError(t, fcmSend(t, hc, s, tok, DemoProjectID, fcmMessage(testFCMToken)), 503, "UNAVAILABLE", "UNAVAILABLE")

	mustSetFault(t, s, Fault{Provider: push.FCM, Status: 401, Reason: "THIRD_PARTY_AUTH_ERROR", Times: 1})
	checkFCMError(t, fcmSend(t, hc, s, tok, DemoProjectID, fcmMessage(testFCMToken)), 401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR")

	if r := fcmSend(t, hc, s, tok, DemoProjectID, fcmMessage(testFCMToken)); r.status != 200 {
		t.Fatalf("after the faults: %d %s", r.status, r.body)
	}
	recs := s.Records(push.FCM)
	var statuses []int
	for _, rec := range recs {
		statuses = append(statuses, rec.Status)
	}
	if want := []int{429, 404, 503, 401, 200}; !slices.Equal(statuses, want) {
		t.Fatalf("recorded statuses %v, want %v", statuses, want)
	}
	if recs[0].Reason != "QUOTA_EXCEEDED" || recs[1].Reason != "UNREGISTERED" {
		t.Fatalf("recorded reasons %q %q", recs[0].Reason, recs[1].Reason)
	}
}

func TestFaultLatencyRespectsClientContext(t *testing.T) {
	s := startSim(t, Options{})
	p := newAPNsPusher(t, s)
	mustSetFault(t, s, Fault{Provider: push.APNs, Token: testDeviceToken, Latency: time.Hour, Times: 1})

	ctx, cancel := context.WithCancel(t.Context())
	taken := make(chan struct{})
	s.faults.onTake(func() { close(taken) })
	go func() {
		<-taken
		cancel()
	}()
	_, err := doCtx(ctx, p.hc, http.MethodPost, s.Endpoint(push.APNs)+"/3/device/"+testDeviceToken, p.h, []byte(apnsBody))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	wctx, wcancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer wcancel()
	err = s.Wait(wctx, func(recs []Record) bool {
		return len(recs) == 1 && recs[0].Status == 0 && recs[0].Reason == "canceled"
	})
	if err != nil {
		t.Fatalf("canceled request not recorded: %v (%+v)", err, s.Records(""))
	}
}

func TestFaultLatencyOnlyAnswersNormally(t *testing.T) {
	s := startSim(t, Options{})
	p := newAPNsPusher(t, s)
	mustSetFault(t, s, Fault{Provider: push.APNs, Latency: time.Millisecond, Times: 1})
	if r := p.push(testDeviceToken); r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if len(s.faults.list()) != 0 {
		t.Fatalf("fault not used up: %+v", s.faults.list())
	}
}

func TestShutdownCutsLatency(t *testing.T) {
	s, err := New(Options{Credentials: testCreds(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	p := newAPNsPusher(t, s)
	mustSetFault(t, s, Fault{Provider: push.APNs, Latency: time.Hour})
	taken := make(chan struct{})
	s.faults.onTake(func() { close(taken) })

	done := make(chan reply, 1)
	go func() {
		r, err := doCtx(t.Context(), p.hc, http.MethodPost, s.Endpoint(push.APNs)+"/3/device/"+testDeviceToken, p.h, []byte(apnsBody))
		if err != nil {
			t.Errorf("request: %v", err)
		}
		done <- r
	}()
	<-taken
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	r := <-done
	if r.status != 503 || jsonField(t, r.body, "reason") != "ServiceUnavailable" {
		t.Fatalf("in-flight request got %d %s, want 503 ServiceUnavailable", r.status, r.body)
	}
}

func TestSetFaultValidates(t *testing.T) {
	s := startSim(t, Options{})
	err := s.SetFault(Fault{Provider: "nope", Status: 200, Times: -1})
	if !errors.Is(err, ErrBadFault) {
		t.Fatalf("SetFault = %v, want ErrBadFault", err)
	}
	for _, want := range []string{"provider", "status 200", "times"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not mention %q", err, want)
		}
	}
	if err := s.SetFault(Fault{Provider: push.APNs}); !errors.Is(err, ErrBadFault) {
		t.Fatalf("empty fault accepted: %v", err)
	}
}

func mustSetFault(t *testing.T, s *Sim, f Fault) {
	t.Helper()
	if err := s.SetFault(f); err != nil {
		t.Fatal(err)
	}
}
