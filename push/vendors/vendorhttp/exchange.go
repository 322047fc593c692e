package vendorhttp

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"

	"github.com/pushd-im/pushd/push"
)

// MaxAnswer is the most of a vendor's answer body kept.
const MaxAnswer = 64 << 10

// Header is one request header. Secret, when set, follows Value on the wire
// and is masked (push.MaskSecret) in the exchange record.
type Header struct {
	Name   string
	Value  string
	Secret string
}

// Bearer is the "Authorization: Bearer <token>" header, the token secret.
func Bearer(token string) Header {
	return Header{Name: "Authorization", Value: "Bearer ", Secret: token}
}

// Request is one call to a vendor API.
type Request struct {
	// Method is the HTTP method; "" is POST.
	Method  string
	URL     string
	Headers []Header
	Body    []byte
	// Shown is the body as the exchange record shows it, its secrets masked;
	// nil shows Body.
	Shown []byte
	// NoRecord leaves the Result's Exchange nil (push.Notification's
	// SkipExchange).
	NoRecord bool
}

func (r Request) method() string {
	if r.Method == "" {
		return http.MethodPost
	}
	return r.Method
}

// Exchange is the record of r as sent, secrets masked, without an answer yet:
// header names lower-cased as on the HTTP/2 wire.
func (r Request) Exchange() *push.Exchange {
	headers := make(map[string]string, len(r.Headers))
	for _, h := range r.Headers {
		v := h.Value
		if h.Secret != "" {
			v += push.MaskSecret(h.Secret)
		}
		headers[strings.ToLower(h.Name)] = v
	}
	body := r.Body
	if r.Shown != nil {
		body = r.Shown
	}
	return &push.Exchange{Method: r.method(), URL: r.URL, Headers: headers, Body: string(body)}
}

// Answer is what a vendor answered: the status, the headers and at most
// MaxAnswer bytes of the body.
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends r with client and has reduce turn the answer (the status, the
// headers and at most MaxAnswer bytes of the body) into the Result. Unless
// r.NoRecord, the Result carries r's exchange record, secrets masked, with the
// status and answer as far as they came. When no whole answer came, reduce is not
// called: the Result is BadRequest when the request cannot be made, and
// Retry "NetworkError: …" when sending it or reading the answer failed.
func Do(ctx context.Context, client *http.Client, r Request, reduce func(Answer) push.Result) push.Result {
	var ex *push.Exchange
	if !r.NoRecord {
		ex = r.Exchange()
	}
	req, err := http.NewRequestWithContext(ctx, r.method(), r.URL, bytes.NewReader(r.Body))
	if err != nil {
		return push.Result{Verdict: push.BadRequest, Reason: err.Error(), Exchange: ex}
	}
	for _, h := range r.Headers {
		req.Header.Set(h.Name, h.Value+h.Secret)
	}
	resp, err := client.Do(req)
	if err != nil {
		return push.Result{Verdict: push.Retry, Reason: "NetworkError: " + err.Error(), Exchange: ex}
	}
	body, err := ReadBody(resp)
	if ex != nil {
		ex.Status, ex.Answer = resp.StatusCode, string(body)
	}
	if err != nil {
		return push.Result{Verdict: push.Retry, Status: resp.StatusCode, Reason: "NetworkError: " + err.Error(), Exchange: ex}
	}
	res := reduce(Answer{Status: resp.StatusCode, Header: resp.Header, Body: body})
	res.Exchange = ex
	return res
}

// ReadBody reads at most MaxAnswer bytes of resp's body and closes it.
func ReadBody(resp *http.Response) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswer))
	resp.Body.Close()
	return body, err
}
