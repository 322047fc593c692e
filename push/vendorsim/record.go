package vendorsim

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/pushd-im/pushd/push"
)

// Record is one request that reached a simulated send endpoint, with the answer's
// status and whether the vendor accepted the push. Failed and faulted requests are
// recorded too.
type Record struct {
	Provider push.Provider
	// Token is the device token when the request targets exactly one.
	Token string
	// Tokens lists every target of the request (one for single sends, many for a
	// batch); empty when the simulator could not tell (for example a malformed body).
	Tokens []string
	// Path is the request path as the vendor sees it ("/3/device/…"), without the
	// simulator's /{provider} prefix. A push to the APNs sandbox host has
	// "/sandbox" in front ("/sandbox/3/device/…").
	Path string
	// Headers holds the request headers under lower-case names, multiple values
	// joined with ", ". Credentials are kept as sent.
	Headers map[string]string
	// Body is the request body as sent.
	Body []byte
	// Status is the HTTP status answered on the wire; 0 when the client gave up
	// during an injected latency. MiPush, OPPO and vivo answer most refusals with
	// HTTP 200 and a code in the body (Reason): see Accepted.
	Status int
	// Accepted reports whether the vendor took the push (every target but
	// InvalidTokens), whatever the HTTP status.
	Accepted bool
	// Reason is the vendor reason or error code answered ("" on success).
	Reason string
	// DryRun marks a request the vendor only validated (FCM validate_only); it is
	// not a delivery.
	DryRun bool
	// InvalidTokens lists the tokens of an accepted batch that the vendor rejected.
	InvalidTokens []string
	// At is when the request arrived, on the Sim's clock.
	At time.Time
}

// Delivered reports whether the vendor accepted the push for token ("" = any
// target) and it was not a dry run.
func (r *Record) Delivered(token string) bool {
	if !r.Accepted || r.DryRun {
		return false
	}
	if token == "" {
		return true
	}
	return slices.Contains(r.Tokens, token) && !slices.Contains(r.InvalidTokens, token)
}

// deliveredCount is how many pushes the record delivered (targets minus rejects).
func (r *Record) deliveredCount() int {
	if !r.Delivered("") {
		return 0
	}
	return max(len(r.Tokens)-len(r.InvalidTokens), 0)
}

// recordJSON is Record on the wire (GET /sim/records). Body is the JSON body itself
// when it is JSON, else a string. Accepted is always written; a record without it
// (from a simulator that predates it) is read as accepted when its status is 200.
type recordJSON struct {
	Provider      push.Provider     `json:"provider"`
	Token         string            `json:"token,omitempty"`
	Tokens        []string          `json:"tokens,omitempty"`
	Path          string            `json:"path"`
	Headers       map[string]string `json:"headers"`
	Body          json.RawMessage   `json:"body,omitempty"`
	Status        int               `json:"status"`
	Accepted      *bool             `json:"accepted,omitempty"`
	Reason        string            `json:"reason,omitempty"`
	DryRun        bool              `json:"dry_run,omitempty"`
	InvalidTokens []string          `json:"invalid_tokens,omitempty"`
	At            time.Time         `json:"at"`
}

// MarshalJSON encodes the record with snake_case fields; a JSON body is embedded
// as JSON, any other body (form-encoded vendors) as a string.
func (r Record) MarshalJSON() ([]byte, error) {
	var body json.RawMessage
	if len(r.Body) > 0 {
		if json.Valid(r.Body) {
			body = r.Body
		} else {
			s, err := json.Marshal(string(r.Body))
			if err != nil {
				return nil, err
			}
			body = s
		}
	}
	return json.Marshal(recordJSON{
		Provider: r.Provider, Token: r.Token, Tokens: r.Tokens, Path: r.Path, Headers: r.Headers,
		Body: body, Status: r.Status, Accepted: &r.Accepted, Reason: r.Reason, DryRun: r.DryRun,
		InvalidTokens: r.InvalidTokens, At: r.At,
	})
}

// UnmarshalJSON decodes what MarshalJSON wrote. A body that was sent as a JSON
// string comes back as its text; a client that sent a bare JSON string as its body
// cannot be told apart, which no vendor does.
func (r *Record) UnmarshalJSON(b []byte) error {
	var j recordJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	body := []byte(j.Body)
	var s string
	if len(j.Body) > 0 && j.Body[0] == '"' && json.Unmarshal(j.Body, &s) == nil {
		body = []byte(s)
	}
	accepted := j.Status == http.StatusOK
	if j.Accepted != nil {
		accepted = *j.Accepted
	}
	*r = Record{
		Provider: j.Provider, Token: j.Token, Tokens: j.Tokens, Path: j.Path, Headers: j.Headers,
		Body: body, Status: j.Status, Accepted: accepted, Reason: j.Reason, DryRun: j.DryRun,
		InvalidTokens: j.InvalidTokens, At: j.At,
	}
	return nil
}

// recorder keeps the records, the delivered counts, and a channel closed on every
// change (replaced by a fresh one) that Wait blocks on.
type recorder struct {
	mu        sync.Mutex
	records   []Record
	max       int
	delivered map[push.Provider]int
	changed   chan struct{}
}

func newRecorder(maxRecords int) *recorder {
	return &recorder{max: maxRecords, delivered: make(map[push.Provider]int), changed: make(chan struct{})}
}

func (rc *recorder) add(r Record) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.records) >= rc.max {
		// Dropping copies the kept records to a new array (a tenth at a time,
		// so that it stays rare): views handed out by view() never see a
		// stored record move or change.
		drop := max(len(rc.records)-rc.max+1, rc.max/10)
		rc.records = slices.Clone(rc.records[drop:])
	}
	rc.records = append(rc.records, r)
	rc.delivered[r.Provider] += r.deliveredCount()
	rc.notifyLocked()
}

func (rc *recorder) reset() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.records = nil
	clear(rc.delivered)
	rc.notifyLocked()
}

func (rc *recorder) notifyLocked() {
	close(rc.changed)
	rc.changed = make(chan struct{})
}

// snapshot returns a copy of the records matching keep, and the channel that will
// be closed on the next change.
func (rc *recorder) snapshot(keep func(*Record) bool) ([]Record, <-chan struct{}) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make([]Record, 0, len(rc.records))
	for i := range rc.records {
		if keep == nil || keep(&rc.records[i]) {
			out = append(out, cloneRecord(rc.records[i]))
		}
	}
	return out, rc.changed
}

// view returns the records as they are, for reading only, and the channel
// closed on the next change. No copy is made: a stored record never changes or
// moves (add appends past the view's end, and dropping old records makes a new
// array), and the capacity is cut so that a reader cannot append into it. Wait
// calls its condition on every new record; a copy each time made waiting for n
// records cost O(n²).
func (rc *recorder) view() ([]Record, <-chan struct{}) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.records[:len(rc.records):len(rc.records)], rc.changed
}

func (rc *recorder) count(p push.Provider) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.delivered[p]
}

// cloneRecord deep-copies r so callers cannot touch the recorder's slices and maps.
func cloneRecord(r Record) Record {
	r.Tokens = slices.Clone(r.Tokens)
	r.InvalidTokens = slices.Clone(r.InvalidTokens)
	r.Body = slices.Clone(r.Body)
	r.Headers = maps.Clone(r.Headers)
	return r
}

// Records returns a copy of the records of provider p in arrival order; p == ""
// returns every provider's.
func (s *Sim) Records(p push.Provider) []Record {
	recs, _ := s.records.snapshot(func(r *Record) bool { return p == "" || r.Provider == p })
	return recs
}

// Delivered returns the records of provider p that delivered a push to token
// (accepted by the vendor, not a dry run, token among the accepted targets).
func (s *Sim) Delivered(p push.Provider, token string) []Record {
	recs, _ := s.records.snapshot(func(r *Record) bool { return r.Provider == p && r.Delivered(token) })
	return recs
}

// Count returns how many pushes provider p delivered since start or the last
// Reset (a batch counts once per accepted token). It keeps counting when old
// records are dropped past Options.MaxRecords.
func (s *Sim) Count(p push.Provider) int {
	return s.records.count(p)
}

// Reset forgets every record and delivered count.
func (s *Sim) Reset() {
	s.records.reset()
}

// Wait blocks until cond holds for the records (all providers, in arrival order),
// ctx is done (ctx.Err()) or the Sim shuts down (ErrClosed). cond is called with the
// records after each new record or Reset, never concurrently; it reads them and must
// not change them (they share their headers, bodies and tokens with the Sim).
func (s *Sim) Wait(ctx context.Context, cond func([]Record) bool) error {
	for {
		recs, changed := s.records.view()
		if cond(recs) {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.stopping:
			return ErrClosed
		}
	}
}
