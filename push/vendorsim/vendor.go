package vendorsim

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/pushd-im/pushd/push"
)

// vendorSpec describes one simulated vendor service. Each vendor file (apns.go,
// fcm.go, hms.go, …) declares its spec in a function, and vendorSpecs lists them:
//
//	func hmsSpec() vendorSpec {
//		return vendorSpec{
//			provider:   push.HMS,
//			authPath:   hmsTokenPath,
//			newHandler: newHMSHandler,
//			config:     hmsConfig,
//		}
//	}
//
// The vendor is then mounted under /{provider} on the Sim's listener, Endpoint and
// AuthEndpoint know it, faults for it are accepted, and Run's config snippet lists it.
type vendorSpec struct {
	// provider names the vendor; its base is {URL}/{provider}.
	provider push.Provider
	// authPath is the vendor's token endpoint below its base ("/token"), or "" when
	// the vendor has none (APNs, Xiaomi).
	authPath string
	// newHandler builds the vendor's handler once per Sim. The handler sees paths
	// with the /{provider} prefix stripped. Send endpoints are built with
	// env.sendHandler so that they record and apply faults.
	newHandler func(env *vendorEnv) (http.Handler, error)
	// config renders the vendor's entry of pushd's providers config: YAML lines
	// starting at "<provider>:" with no indentation. Nil leaves the vendor out.
	config func(c configContext) string
}

// vendorSpecs returns the simulated vendors, in the registry's order
// (push/vendors.All; a test holds them equal). A new
// vendor is one more entry here.
func vendorSpecs() []vendorSpec {
	return []vendorSpec{apnsSpec(), fcmSpec(), hmsSpec(), xiaomiSpec(), oppoSpec(), vivoSpec(), honorSpec()}
}

// vendorSpecFor returns the spec of provider p, ok=false when p is not simulated.
func vendorSpecFor(p push.Provider) (vendorSpec, bool) {
	for _, spec := range vendorSpecs() {
		if spec.provider == p {
			return spec, true
		}
	}
	return vendorSpec{}, false
}

// configContext is what a vendor's config snippet may refer to.
type configContext struct {
	creds        *Credentials
	dir          string // absolute credentials directory
	endpoint     string // the vendor's base URL
	authEndpoint string // "" when the vendor has none
	caFile       string // absolute path of ca.pem
}

// vendorEnv is what a vendor's handlers get from the Sim: credentials, clock,
// logger, the shared access-token store, the vendor's daily quota, and the
// recording, fault-injecting send pipeline. The Sim keeps one per vendor
// (Sim.vendors), which is how a Sim method reaches a vendor's state.
type vendorEnv struct {
	provider push.Provider
	creds    *Credentials
	keys     *parsedCredentials
	log      *slog.Logger
	sim      *Sim
	// quota is the app's daily quota at this vendor, capped by a Sim method
	// (SetDailyQuota) and charged by the vendor's send endpoints. Vendors
	// without a daily quota (APNs, FCM) leave it unlimited and never charge it.
	quota *dailyQuota
}

// newVendorEnv is the environment of the vendor spec describes, on s.
func newVendorEnv(s *Sim, spec vendorSpec) *vendorEnv {
	return &vendorEnv{provider: spec.provider, creds: s.creds, keys: s.keys, log: s.log, sim: s, quota: &dailyQuota{}}
}

// now is the Sim's clock.
func (e *vendorEnv) now() time.Time { return e.sim.now() }

// authEndpoint is the vendor's token endpoint URL ("" when it has none).
func (e *vendorEnv) authEndpoint() string { return e.sim.AuthEndpoint(e.provider) }

// issueAccessToken hands out a random access token for this vendor, valid for ttl
// on the Sim's clock, and returns it with its expiry.
func (e *vendorEnv) issueAccessToken(ttl time.Duration) (string, time.Time) {
	return e.sim.tokens.issue(e.provider, e.now(), ttl)
}

// accessTokenLive reports whether token was issued for this vendor, has not expired
// and has not been invalidated by ExpireAccessTokens.
func (e *vendorEnv) accessTokenLive(token string) bool {
	return e.sim.tokens.live(e.provider, token, e.now())
}

// oauthTokenAnswer issues an access token valid for ttl and answers it as an
// OAuth token endpoint does (Google's for FCM, Huawei's).
func (e *vendorEnv) oauthTokenAnswer(ttl time.Duration) answer {
	token, _ := e.issueAccessToken(ttl)
	a := jsonAnswer(http.StatusOK, "", map[string]any{
		"access_token": token,
		"expires_in":   int(ttl / time.Second),
		"token_type":   "Bearer",
	})
	return a.withHeader("Cache-Control", "no-store")
}

// maxSendBody caps what the send pipeline reads of a request body; vendors check
// their own, smaller limits.
const maxSendBody = 1 << 20

// answer is a vendor's reply to one send request.
type answer struct {
	// status is the HTTP status on the wire, and the Record's.
	status int
	// accepted reports that the vendor took the push (all of its targets but
	// invalidTokens). The status alone does not say: MiPush, OPPO and vivo answer
	// their refusals with HTTP 200 and a code in the body. It becomes
	// Record.Accepted, which Record.Delivered and Sim.Count go by.
	accepted bool
	// reason is the vendor's reason or code, kept in the Record ("" on success).
	reason string
	header http.Header
	body   []byte
	// dryRun marks a request the vendor only validated (FCM validate_only).
	dryRun bool
	// invalidTokens lists tokens of an accepted batch that the vendor rejected.
	invalidTokens []string
}

// jsonAnswer builds an answer with a JSON body.
func jsonAnswer(status int, reason string, v any) answer {
	b, err := json.Marshal(v)
	if err != nil { // the vendors marshal maps and structs of plain values
		panic(err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=utf-8")
	return answer{status: status, reason: reason, header: h, body: b}
}

// withHeader returns a with header k set to v.
func (a answer) withHeader(k, v string) answer {
	if a.header == nil {
		a.header = http.Header{}
	}
	a.header.Set(k, v)
	return a
}

// withRetryAfter returns a with f's Retry-After header, when f sets one.
func (a answer) withRetryAfter(f Fault) answer {
	if ra := f.retryAfterSeconds(); ra != "" {
		return a.withHeader("Retry-After", ra)
	}
	return a
}

// sendRoute is one send endpoint of a vendor. vendorEnv.sendHandler runs it as:
// read the body, find the targets, admit (protocol, method, auth), apply a fault if
// one matches, else serve; and records the request with the answer's status and
// whether the vendor accepted it.
type sendRoute struct {
	// targets returns the device tokens the request is for, best effort (a request
	// the vendor will reject may yield none). Faults are matched against them and
	// they become Record.Tokens.
	targets func(r *http.Request, body []byte) []string
	// admit checks what must hold before the vendor looks at the message
	// (protocol, method, credentials). ok=false sends its answer.
	admit func(r *http.Request) (a answer, ok bool)
	// fault renders injected faults in the vendor's error shape, or serves the
	// message with the faults' tokens rejected where the vendor reports dead
	// tokens in a success answer. hits is never empty and every hit has a
	// non-zero Status. body is nil when the body could not be read or was too
	// large (then the hit is the framework's 400 or 413).
	fault func(r *http.Request, body []byte, hits []faultHit) answer
	// serve checks the message and answers it as the vendor would. r.Body has
	// been read into body already: form-encoded vendors parse it with
	// url.ParseQuery(string(body)).
	serve func(r *http.Request, body []byte, targets []string) answer
}

// errStopping cuts an injected latency short when the Sim shuts down.
var errStopping = errors.New("vendorsim: shutting down")

// sendHandler turns a sendRoute into a handler that records every request and
// applies the faults set for its targets.
func (e *vendorEnv) sendHandler(route sendRoute) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxSendBody+1))
		targets := []string(nil)
		if err == nil {
			targets = route.targets(r, body)
		}
		rec := Record{
			Provider: e.provider,
			Tokens:   targets,
			Path:     r.URL.Path,
			Headers:  flattenHeaders(r.Header),
			Body:     body,
			At:       e.now(),
		}
		if len(targets) == 1 {
			rec.Token = targets[0]
		}

		a, ok := answer{}, true
		switch {
		case err != nil:
			a, ok = route.fault(r, nil, e.frameworkFault(http.StatusBadRequest)), false
		case len(body) > maxSendBody:
			a, ok = route.fault(r, nil, e.frameworkFault(http.StatusRequestEntityTooLarge)), false
		default:
			a, ok = route.admit(r)
		}
		if ok {
			a, ok = e.applyFaults(r, route, body, targets)
		}
		if ok {
			a = route.serve(r, body, targets)
		} else if r.Context().Err() != nil {
			// The client went away during an injected latency: nobody reads an answer.
			rec.Status, rec.Reason = 0, "canceled"
			e.sim.records.add(rec)
			return
		}

		rec.Status, rec.Accepted, rec.Reason, rec.DryRun, rec.InvalidTokens = a.status, a.accepted, a.reason, a.dryRun, a.invalidTokens
		e.sim.records.add(rec)
		if e.log.Enabled(context.Background(), slog.LevelDebug) { // spares boxing the attributes per request
			e.log.Debug("vendorsim: send", "provider", e.provider, "path", rec.Path, "token", rec.Token,
				"status", a.status, "accepted", a.accepted, "reason", a.reason)
		}
		writeAnswer(w, a)
	})
}

// frameworkFault is the one hit of a fault the pipeline itself answers with: a
// body it could not read (400), one too large (413), a shutdown during an
// injected latency (503).
func (e *vendorEnv) frameworkFault(status int) []faultHit {
	return []faultHit{{Fault: Fault{Provider: e.provider, Status: status}}}
}

// applyFaults takes the faults matching targets, waits out their latency and
// renders the ones with a status. ok=true means no fault answers: serve normally.
func (e *vendorEnv) applyFaults(r *http.Request, route sendRoute, body []byte, targets []string) (answer, bool) {
	hits := e.sim.faults.take(e.provider, targets)
	if len(hits) == 0 {
		return answer{}, true
	}
	var latency time.Duration
	var answering []faultHit
	for _, h := range hits {
		latency = max(latency, h.Fault.Latency)
		if h.Fault.Status != 0 {
			answering = append(answering, h)
		}
	}
	if err := e.sim.sleep(r, latency); err != nil {
		if errors.Is(err, errStopping) {
			return route.fault(r, body, e.frameworkFault(http.StatusServiceUnavailable)), false
		}
		return answer{}, false // the request's context is done
	}
	if len(answering) == 0 {
		return answer{}, true
	}
	return route.fault(r, body, answering), false
}

// deadTokenPrefix marks a device token that the Huawei, Xiaomi, OPPO and vivo
// simulators treat as dead (unregistered or uninstalled), so that a test reaches
// the vendor's invalid-token answer by sending to "invalid-…".
const deadTokenPrefix = "invalid-"

// deadToken reports whether the simulated vendors treat token as dead.
func deadToken(token string) bool {
	return strings.HasPrefix(token, deadTokenPrefix)
}

// splitList splits a sep-separated list of ids (MiPush's registration_id, OPPO's
// target_value), trimming each and dropping blanks.
func splitList(s, sep string) []string {
	var ids []string
	for _, id := range strings.Split(s, sep) {
		if id = strings.TrimSpace(id); id != "" {
			ids = append(ids, id)
		}
	}
	return ids
}

// pathParam returns the one path segment between prefix and suffix of path
// (FCM's project, Huawei's client id), or "" when path is not of that form.
func pathParam(path, prefix, suffix string) string {
	rest, ok := strings.CutPrefix(path, prefix)
	if !ok {
		return ""
	}
	param, ok := strings.CutSuffix(rest, suffix)
	if !ok || strings.Contains(param, "/") {
		return ""
	}
	return param
}

// flattenHeaders keeps one value per header (multiple values joined with ", "),
// under lower-case names as HTTP/2 sends them.
func flattenHeaders(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, vs := range h {
		out[strings.ToLower(k)] = strings.Join(vs, ", ")
	}
	return out
}

// writeAnswer writes a to w.
func writeAnswer(w http.ResponseWriter, a answer) {
	for k, vs := range a.header {
		w.Header()[k] = vs
	}
	w.WriteHeader(a.status)
	if len(a.body) > 0 {
		_, _ = w.Write(a.body)
	}
}
