package vendorsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pushd-im/pushd/push"
)

// Fault makes a provider's send endpoint misbehave on purpose: answer with an error,
// answer late, or both. A fault for a token wins over a provider-wide one.
type Fault struct {
	Provider push.Provider
	// Token limits the fault to one device token; "" applies it to every request
	// of the provider.
	Token string
	// Status is the HTTP status to answer (400–599), in the provider's real error
	// shape; 0 answers normally (a latency-only fault).
	Status int
	// Reason is the vendor reason or error code (APNs "Unregistered", FCM
	// "UNREGISTERED", …); "" picks the provider's usual one for Status.
	Reason string
	// RetryAfter, when set, is sent as a Retry-After header (whole seconds, rounded up).
	RetryAfter time.Duration
	// Latency delays the answer. It ends early when the client gives up or the
	// Sim shuts down (then the answer is a 503).
	Latency time.Duration
	// Times is how many requests the fault applies to; 0 means until cleared.
	Times int
}

// ErrBadFault is returned for a fault that names no known provider or has
// out-of-range values.
var ErrBadFault = errors.New("vendorsim: bad fault")

// validate reports every problem of f at once.
func (f Fault) validate() error {
	var problems []string
	if _, ok := vendorSpecFor(f.Provider); !ok {
		problems = append(problems, fmt.Sprintf("provider %q is not simulated", f.Provider))
	}
	if f.Status != 0 && (f.Status < 400 || f.Status > 599) {
		problems = append(problems, fmt.Sprintf("status %d is not 0 or 400-599", f.Status))
	}
	if f.RetryAfter < 0 {
		problems = append(problems, "retry_after is negative")
	}
	if f.Latency < 0 {
		problems = append(problems, "latency is negative")
	}
	if f.Times < 0 {
		problems = append(problems, "times is negative")
	}
	if f.Status == 0 && f.Latency == 0 {
		problems = append(problems, "neither status nor latency is set")
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrBadFault, strings.Join(problems, "; "))
	}
	return nil
}

// retryAfterSeconds is RetryAfter as a Retry-After header value ("" when unset).
func (f Fault) retryAfterSeconds() string {
	if f.RetryAfter <= 0 {
		return ""
	}
	return fmt.Sprint(int64((f.RetryAfter + time.Second - 1) / time.Second))
}

// faultJSON is Fault on the wire (POST /sim/faults): snake_case fields, durations
// as Go duration strings ("200ms", "2s").
type faultJSON struct {
	Provider   push.Provider `json:"provider"`
	Token      string        `json:"token,omitempty"`
	Status     int           `json:"status,omitempty"`
	Reason     string        `json:"reason,omitempty"`
	RetryAfter string        `json:"retry_after,omitempty"`
	Latency    string        `json:"latency,omitempty"`
	Times      int           `json:"times,omitempty"`
	// Left is how many more requests the fault applies to (GET /sim/faults only).
	Left int `json:"left,omitempty"`
}

// MarshalJSON encodes the fault as POST /sim/faults takes it.
func (f Fault) MarshalJSON() ([]byte, error) {
	return json.Marshal(f.wire())
}

func (f Fault) wire() faultJSON {
	j := faultJSON{Provider: f.Provider, Token: f.Token, Status: f.Status, Reason: f.Reason, Times: f.Times}
	if f.RetryAfter != 0 {
		j.RetryAfter = f.RetryAfter.String()
	}
	if f.Latency != 0 {
		j.Latency = f.Latency.String()
	}
	return j
}

// UnmarshalJSON decodes a fault, rejecting unknown fields and bad durations.
func (f *Fault) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var j faultJSON
	if err := dec.Decode(&j); err != nil {
		return err
	}
	out := Fault{Provider: j.Provider, Token: j.Token, Status: j.Status, Reason: j.Reason, Times: j.Times}
	var err error
	if j.RetryAfter != "" {
		if out.RetryAfter, err = time.ParseDuration(j.RetryAfter); err != nil {
			return fmt.Errorf("retry_after: %w", err)
		}
	}
	if j.Latency != "" {
		if out.Latency, err = time.ParseDuration(j.Latency); err != nil {
			return fmt.Errorf("latency: %w", err)
		}
	}
	*f = out
	return nil
}

// faultHit is a fault that matched a request, with the request's targets it
// covers (all of them for a provider-wide fault).
type faultHit struct {
	Fault  Fault
	Tokens []string
}

// activeFault is a set fault with the number of requests it still applies to
// (-1: until cleared).
type activeFault struct {
	Fault
	left int
}

// faultTable holds the set faults, one per (provider, token).
type faultTable struct {
	mu     sync.Mutex
	faults []*activeFault
	// some is len(faults) > 0, read without the lock: with no fault set (a
	// load run), requests do not meet on the mutex.
	some atomic.Bool
	// taken, when set (by tests, through onTake), is called after every take that matched.
	taken func()
}

// set adds f, replacing a fault for the same provider and token.
func (t *faultTable) set(f Fault) {
	left := f.Times
	if left == 0 {
		left = -1
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, af := range t.faults {
		if af.Provider == f.Provider && af.Token == f.Token {
			t.faults[i] = &activeFault{Fault: f, left: left}
			return
		}
	}
	t.faults = append(t.faults, &activeFault{Fault: f, left: left})
	t.some.Store(true)
}

func (t *faultTable) clear() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.faults = nil
	t.some.Store(false)
}

// list returns the set faults with how many requests each still applies to (0: until cleared).
func (t *faultTable) list() []faultJSON {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]faultJSON, 0, len(t.faults))
	for _, af := range t.faults {
		j := af.Fault.wire()
		j.Left = max(af.left, 0)
		out = append(out, j)
	}
	return out
}

// take returns the faults that apply to a request of p for targets and counts the
// request against each of them once. Token faults win: when any target has one,
// each matching token fault is a hit for its token; otherwise the provider-wide
// fault, if any, is one hit for every target.
func (t *faultTable) take(p push.Provider, targets []string) []faultHit {
	hits, taken := t.consume(p, targets)
	if len(hits) > 0 && taken != nil {
		taken()
	}
	return hits
}

// onTake sets the function take calls after it matched (tests use it to learn that
// a request is inside an injected latency).
func (t *faultTable) onTake(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.taken = f
}

func (t *faultTable) consume(p push.Provider, targets []string) ([]faultHit, func()) {
	if !t.some.Load() {
		return nil, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var hits []faultHit
	var used []*activeFault
	for _, af := range t.faults {
		if af.Provider != p || af.Token == "" {
			continue
		}
		for _, tok := range targets {
			if tok == af.Token {
				hits = append(hits, faultHit{Fault: af.Fault, Tokens: []string{tok}})
				used = append(used, af)
				break
			}
		}
	}
	if len(hits) == 0 {
		for _, af := range t.faults {
			if af.Provider == p && af.Token == "" {
				hits = append(hits, faultHit{Fault: af.Fault, Tokens: targets})
				used = append(used, af)
				break
			}
		}
	}
	for _, af := range used {
		if af.left > 0 {
			af.left--
		}
		if af.left == 0 {
			t.remove(af)
		}
	}
	return hits, t.taken
}

func (t *faultTable) remove(target *activeFault) {
	for i, af := range t.faults {
		if af == target {
			t.faults = append(t.faults[:i], t.faults[i+1:]...)
			t.some.Store(len(t.faults) > 0)
			return
		}
	}
}

// SetFault makes provider f.Provider answer with f (see Fault). It replaces a
// fault set earlier for the same provider and token.
func (s *Sim) SetFault(f Fault) error {
	if err := f.validate(); err != nil {
		return err
	}
	s.faults.set(f)
	return nil
}

// ClearFaults removes every fault.
func (s *Sim) ClearFaults() {
	s.faults.clear()
}

// sleep waits d on the real clock, ending early with the request context's error
// or errStopping when the Sim shuts down.
func (s *Sim) sleep(r *http.Request, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-r.Context().Done():
		return r.Context().Err()
	case <-s.stopping:
		return errStopping
	}
}
