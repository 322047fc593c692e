package vendorhttp

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/internal/vendortest"
)

const testToken = "ya29.a0AfH6SMBx0123456789abcdefghijklmnop"

// keep is a reduce for Do that keeps the answer in *a and calls it Delivered.
func keep(a *Answer) func(Answer) push.Result {
	return func(got Answer) push.Result {
		*a = got
		return push.Result{Verdict: push.Delivered, Status: got.Status}
	}
}

// unreached is a reduce for Do that must not be called.
func unreached(t *testing.T) func(Answer) push.Result {
	return func(a Answer) push.Result {
		t.Errorf("reduce called with %d %q although no whole answer came", a.Status, a.Body)
		return push.Result{}
	}
}

func TestExchangeMasksSecrets(t *testing.T) {
	r := Request{
		URL: "https://push.example/v1/send",
		Headers: []Header{
			{Name: "Content-Type", Value: "application/json"},
			Bearer(testToken),
			{Name: "authToken", Secret: "vivo-auth-token-0123456789"},
			{Name: "Authorization-Key", Value: "key=", Secret: "mi-secret-0123456789"},
		},
		Body: []byte(`{"a":1}`),
	}
	ex := r.Exchange()
	want := &push.Exchange{
		Method: http.MethodPost,
		URL:    "https://push.example/v1/send",
		Headers: map[string]string{
			"content-type":      "application/json",
			"authorization":     "Bearer " + push.MaskSecret(testToken),
			"authtoken":         push.MaskSecret("vivo-auth-token-0123456789"),
			"authorization-key": "key=" + push.MaskSecret("mi-secret-0123456789"),
		},
		Body: `{"a":1}`,
	}
	if !reflect.DeepEqual(ex, want) {
		t.Errorf("Exchange() = %+v,\nwant %+v", ex, want)
	}
	for _, v := range ex.Headers {
		if strings.Contains(v, testToken) || strings.Contains(v, "0123456789") {
			t.Errorf("a secret shows in the exchange: %q", v)
		}
	}

	// Shown replaces the body in the record; Method defaults to POST only when empty.
	r.Method, r.Shown = http.MethodPut, []byte(`sign=****`)
	if ex := r.Exchange(); ex.Body != "sign=****" || ex.Method != http.MethodPut {
		t.Errorf("Exchange() = %+v, want the shown body and PUT", ex)
	}
}

func TestDoSendsSecretsAndRecordsTheAnswer(t *testing.T) {
	var got *http.Request
	var gotBody string
	srv, ca := vendortest.TLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got, gotBody = r, string(b)
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, `{"code":"slow down"}`)
	}))
	client := NewClient(mustRoots(t, ca), 10*time.Second)
	defer client.CloseIdleConnections()

	req := Request{
		URL:     srv.URL + "/send",
		Headers: []Header{{Name: "Content-Type", Value: "application/json"}, Bearer(testToken)},
		Body:    []byte(`{"m":1}`),
	}
	var a Answer
	r := Do(context.Background(), client, req, keep(&a))
	if r.Verdict != push.Delivered {
		t.Fatalf("Do failed: %+v", r)
	}
	ex := r.Exchange
	if got.ProtoMajor != 2 {
		t.Errorf("request over HTTP/%d, want HTTP/2", got.ProtoMajor)
	}
	if got.Method != http.MethodPost || got.URL.Path != "/send" || gotBody != `{"m":1}` {
		t.Errorf("server got %s %s %q", got.Method, got.URL.Path, gotBody)
	}
	if h := got.Header.Get("Authorization"); h != "Bearer "+testToken {
		t.Errorf("Authorization on the wire = %q, want the whole token", h)
	}
	if a.Status != 429 || a.Header.Get("Retry-After") != "30" || string(a.Body) != `{"code":"slow down"}` {
		t.Errorf("answer = %d %v %s", a.Status, a.Header, a.Body)
	}
	if ex.Status != 429 || ex.Answer != `{"code":"slow down"}` || ex.Headers["authorization"] != "Bearer "+push.MaskSecret(testToken) {
		t.Errorf("exchange = %+v", ex)
	}

	// Without a record the same request goes and the same answer decides.
	req.NoRecord = true
	var b Answer
	unrecorded := Do(context.Background(), client, req, keep(&b))
	if unrecorded.Exchange != nil || unrecorded.Verdict != r.Verdict {
		t.Errorf("NoRecord: %+v, want no exchange and verdict %s", unrecorded, r.Verdict)
	}
	if gotBody != `{"m":1}` || got.Header.Get("Authorization") != "Bearer "+testToken || b.Status != 429 || string(b.Body) != string(a.Body) {
		t.Errorf("NoRecord: server got %q %v, answer %d %s", gotBody, got.Header, b.Status, b.Body)
	}
}

func TestDoBoundsTheAnswer(t *testing.T) {
	srv, ca := vendortest.TLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", MaxAnswer+100))
	}))
	client := NewClient(mustRoots(t, ca), 10*time.Second)
	var a Answer
	r := Do(context.Background(), client, Request{URL: srv.URL}, keep(&a))
	if r.Verdict != push.Delivered {
		t.Fatalf("Do failed: %+v", r)
	}
	if len(a.Body) != MaxAnswer || len(r.Exchange.Answer) != MaxAnswer {
		t.Errorf("kept %d / %d bytes, want %d", len(a.Body), len(r.Exchange.Answer), MaxAnswer)
	}
}

func TestDoFailures(t *testing.T) {
	client := NewClient(nil, 5*time.Second)

	// A request that cannot be made is the caller's bug.
	failed := Do(context.Background(), client, Request{URL: "https://bad host/"}, unreached(t))
	if failed.Verdict != push.BadRequest || failed.Exchange == nil || failed.Exchange.URL != "https://bad host/" {
		t.Errorf("bad URL: %+v", failed)
	}

	// No answer: the network.
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	failed = Do(context.Background(), client, Request{URL: url, Headers: []Header{Bearer(testToken)}}, unreached(t))
	if failed.Verdict != push.Retry || !strings.HasPrefix(failed.Reason, "NetworkError: ") || failed.Status != 0 {
		t.Fatalf("closed server: %+v", failed)
	}
	if ex := failed.Exchange; ex == nil || ex.Headers["authorization"] != "Bearer "+push.MaskSecret(testToken) {
		t.Errorf("closed server exchange: %+v", ex)
	}

	// An answer cut off: the status is kept, the verdict is Retry.
	cut := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer cut.Close()
	failed = Do(context.Background(), client, Request{URL: cut.URL}, unreached(t))
	if failed.Verdict != push.Retry || failed.Status != 200 || !strings.HasPrefix(failed.Reason, "NetworkError: ") {
		t.Fatalf("cut answer: %+v", failed)
	}
	if ex := failed.Exchange; ex.Status != 200 || ex.Answer != "partial" {
		t.Errorf("cut answer exchange: %+v", ex)
	}

	// The caller's context ends the request.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if failed = Do(ctx, client, Request{URL: cut.URL}, unreached(t)); failed.Verdict != push.Retry {
		t.Errorf("cancelled context: %+v", failed)
	}
}
