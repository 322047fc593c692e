package vendorsim

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pushd-im/pushd/push"
)

func apnsSpec() vendorSpec {
	return vendorSpec{
		provider:   push.APNs,
		newHandler: newAPNsHandler,
		config:     apnsConfig,
	}
}

// APNs limits and rules (docs/vendors.md, APNs). UNCONFIRMED facts are marked.
const (
	apnsDevicePath = "/3/device/"
	// apnsSandboxPrefix is the path under the Sim's APNs endpoint that stands
	// for the sandbox (development) host: endpoint_development points there.
	apnsSandboxPrefix = "/sandbox"
	// apnsMaxPayload is the payload limit; apnsMaxPayloadVoIP is UNCONFIRMED.
	apnsMaxPayload     = 4096
	apnsMaxPayloadVoIP = 5120
	apnsMaxCollapseID  = 64
	// apnsTokenMaxAge: a provider token whose iat is older is ExpiredProviderToken.
	apnsTokenMaxAge = time.Hour
	// apnsMaxDeviceToken caps a device token (hex characters); Apple documents
	// tokens as variable length, so the bound is generous.
	apnsMaxDeviceToken = 200
)

// The APNs reason strings the simulator answers with.
const (
	apnsBadCollapseID          = "BadCollapseId"
	apnsBadDeviceToken         = "BadDeviceToken"
	apnsBadExpirationDate      = "BadExpirationDate"
	apnsBadMessageID           = "BadMessageId"
	apnsBadPriority            = "BadPriority"
	apnsBadTopic               = "BadTopic"
	apnsDeviceTokenNotForTopic = "DeviceTokenNotForTopic"
	apnsDuplicateHeaders       = "DuplicateHeaders"
	apnsInvalidPushType        = "InvalidPushType"
	apnsMissingDeviceToken     = "MissingDeviceToken"
	apnsMissingTopic           = "MissingTopic"
	apnsPayloadEmpty           = "PayloadEmpty"
	apnsTopicDisallowed        = "TopicDisallowed"
	apnsBadCertificate         = "BadCertificate"
	apnsExpiredProviderToken   = "ExpiredProviderToken" // literal UNCONFIRMED
	apnsInvalidProviderToken   = "InvalidProviderToken"
	apnsMissingProviderToken   = "MissingProviderToken" // UNCONFIRMED
	apnsBadPath                = "BadPath"
	apnsMethodNotAllowed       = "MethodNotAllowed"
	apnsUnregistered           = "Unregistered"
	apnsPayloadTooLarge        = "PayloadTooLarge"
	apnsTooManyRequests        = "TooManyRequests"
	apnsInternalServerError    = "InternalServerError"
	apnsServiceUnavailable     = "ServiceUnavailable"

	// apnsBadPayload answers a payload that is not a JSON object with an "aps"
	// dictionary. APNs documents no reason for it: UNCONFIRMED, simulator's own.
	apnsBadPayload = "BadPayload"
	// apnsHTTP2Required answers an HTTP/1.x request (status 505). The real APNs
	// speaks only HTTP/2, so an HTTP/1.1 client there sees a protocol error
	// instead; the simulator shares its listener with HTTP/1.1 vendors and
	// answers in words. Simulator's own reason.
	apnsHTTP2Required = "HTTP2Required"
)

// apnsFaultReasons is the reason a Fault with no Reason answers with, per status.
var apnsFaultReasons = map[int]string{
	http.StatusBadRequest:            apnsBadDeviceToken,
	http.StatusForbidden:             apnsExpiredProviderToken,
	http.StatusNotFound:              apnsBadPath,
	http.StatusMethodNotAllowed:      apnsMethodNotAllowed,
	http.StatusGone:                  apnsUnregistered,
	http.StatusRequestEntityTooLarge: apnsPayloadTooLarge,
	http.StatusTooManyRequests:       apnsTooManyRequests,
	http.StatusInternalServerError:   apnsInternalServerError,
	http.StatusServiceUnavailable:    apnsServiceUnavailable,
}

// apnsTopicSuffixes is the topic a push type needs: the bundle id plus this suffix.
// Push types not listed use the bare bundle id.
var apnsTopicSuffixes = map[string]string{
	"voip":         ".voip",
	"complication": ".complication",
	"fileprovider": ".pushkit.fileprovider",
	"liveactivity": ".push-type.liveactivity",
	"location":     ".location-query",
	"pushtotalk":   ".voip-ptt",
}

// apnsPushTypes lists the apns-push-type values APNs knows.
var apnsPushTypes = map[string]bool{
	"alert": true, "background": true, "voip": true, "complication": true, "fileprovider": true,
	"mdm": true, "location": true, "liveactivity": true, "pushtotalk": true, "widgets": true, "controls": true,
}

// apnsUniqueHeaders are the request headers APNs refuses to see twice.
var apnsUniqueHeaders = []string{
	"Authorization", "Apns-Id", "Apns-Topic", "Apns-Push-Type", "Apns-Priority",
	"Apns-Expiration", "Apns-Collapse-Id",
}

// apnsVendor checks APNs requests against the credentials.
type apnsVendor struct {
	env      *vendorEnv
	teamID   string
	keyID    string
	bundleID string
	pub      *ecdsa.PublicKey

	// verified remembers the issue time of provider tokens whose signature
	// checked out: like APNs, which verifies a token once per connection and
	// not on every push, the simulator spends one ECDSA verify per token.
	mu       sync.Mutex
	verified map[string]time.Time
}

// apnsVerifiedTokens bounds the remembered provider tokens.
const apnsVerifiedTokens = 1024

func newAPNsHandler(env *vendorEnv) (http.Handler, error) {
	v := &apnsVendor{
		env:      env,
		teamID:   env.creds.APNs.TeamID,
		keyID:    env.creds.APNs.KeyID,
		bundleID: env.creds.APNs.BundleID,
		pub:      env.keys.apnsKey,
	}
	return env.sendHandler(sendRoute{
		targets: v.targets,
		admit:   v.admit,
		fault:   v.fault,
		serve:   v.serve,
	}), nil
}

func (v *apnsVendor) targets(r *http.Request, _ []byte) []string {
	_, path := apnsHost(r.URL.Path)
	token, ok := strings.CutPrefix(path, apnsDevicePath)
	if !ok || token == "" {
		return nil
	}
	return []string{token}
}

// apnsHost splits a request path into the environment it reached (the
// sandbox host, or production) and the path as that host sees it.
func apnsHost(path string) (sandbox bool, rest string) {
	if rest, ok := strings.CutPrefix(path, apnsSandboxPrefix); ok && strings.HasPrefix(rest, "/") {
		return true, rest
	}
	return false, path
}

// apnsTokenEnvs remembers the environment of each device token the Sim
// minted (Sim.APNsToken): Apple issues a token for one environment, and the
// other answers BadDeviceToken for it.
type apnsTokenEnvs struct {
	mu      sync.Mutex
	sandbox map[string]bool
}

// refuses reports whether the environment (sandbox or not) refuses token:
// the Sim minted it for the other one. Tokens it did not mint go anywhere.
func (e *apnsTokenEnvs) refuses(token string, sandbox bool) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	minted, ok := e.sandbox[strings.ToLower(token)]
	return ok && minted != sandbox
}

// APNsToken mints a device token of the simulated APNs for one environment:
// sandbox (a development build's token) or production. Like Apple's, it is a
// BadDeviceToken in the other environment. Tokens the Sim did not mint are
// taken by both environments.
func (s *Sim) APNsToken(sandbox bool) string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand documents it)
	t := hex.EncodeToString(b[:])
	s.apnsTokens.mu.Lock()
	defer s.apnsTokens.mu.Unlock()
	if s.apnsTokens.sandbox == nil {
		s.apnsTokens.sandbox = map[string]bool{}
	}
	s.apnsTokens.sandbox[t] = sandbox
	return t
}

// APNsSandboxEndpoint is the base URL of the simulated APNs sandbox host (a
// config's endpoint_development), or "" before Start. Endpoint(push.APNs) is
// the production host.
func (s *Sim) APNsSandboxEndpoint() string {
	if e := s.Endpoint(push.APNs); e != "" {
		return e + apnsSandboxPrefix
	}
	return ""
}

// admit checks the protocol, method, path and provider authentication.
func (v *apnsVendor) admit(r *http.Request) (answer, bool) {
	switch {
	case r.ProtoMajor != 2:
		return v.reject(r, http.StatusHTTPVersionNotSupported, apnsHTTP2Required), false
	case r.Method != http.MethodPost:
		return v.reject(r, http.StatusMethodNotAllowed, apnsMethodNotAllowed), false
	}
	if _, path := apnsHost(r.URL.Path); !strings.HasPrefix(path, apnsDevicePath) {
		return v.reject(r, http.StatusNotFound, apnsBadPath), false
	}
	if auth := r.Header.Get("Authorization"); auth != "" {
		if reason := v.checkProviderToken(auth); reason != "" {
			return v.reject(r, http.StatusForbidden, reason), false
		}
		return answer{}, true
	}
	if cert := clientCert(r); cert != nil {
		if apnsCertBundle(cert) == "" {
			return v.reject(r, http.StatusForbidden, apnsBadCertificate), false
		}
		return answer{}, true
	}
	return v.reject(r, http.StatusForbidden, apnsMissingProviderToken), false
}

// checkProviderToken verifies an "authorization: bearer <JWT>" header and returns
// the 403 reason, or "" when the token is good.
func (v *apnsVendor) checkProviderToken(header string) string {
	raw, ok := parseBearer(header)
	if !ok {
		return apnsInvalidProviderToken
	}
	v.mu.Lock()
	iat, seen := v.verified[raw]
	v.mu.Unlock()
	if !seen {
		var reason string
		if iat, reason = v.verifyProviderToken(raw); reason != "" {
			return reason
		}
		v.mu.Lock()
		if v.verified == nil || len(v.verified) >= apnsVerifiedTokens {
			v.verified = map[string]time.Time{}
		}
		v.verified[raw] = iat
		v.mu.Unlock()
	}
	now := v.env.now()
	if iat.After(now) {
		return apnsInvalidProviderToken
	}
	if now.Sub(iat) > apnsTokenMaxAge {
		return apnsExpiredProviderToken
	}
	return ""
}

// verifyProviderToken checks the token's signature, key id and issuer, and
// returns its issue time.
func (v *apnsVendor) verifyProviderToken(raw string) (time.Time, string) {
	tok, err := jwt.Parse(raw, func(t *jwt.Token) (any, error) {
		if kid, _ := t.Header["kid"].(string); kid != v.keyID {
			return nil, errors.New("unknown kid")
		}
		return v.pub, nil
	}, jwt.WithValidMethods([]string{jwt.SigningMethodES256.Alg()}), jwt.WithoutClaimsValidation())
	if err != nil {
		return time.Time{}, apnsInvalidProviderToken
	}
	claims, ok := tok.Claims.(jwt.MapClaims)
	if !ok {
		return time.Time{}, apnsInvalidProviderToken
	}
	if iss, err := claims.GetIssuer(); err != nil || iss != v.teamID {
		return time.Time{}, apnsInvalidProviderToken
	}
	iat, err := claims.GetIssuedAt()
	if err != nil || iat == nil {
		return time.Time{}, apnsInvalidProviderToken
	}
	return iat.Time, ""
}

// serve checks the notification and answers it.
func (v *apnsVendor) serve(r *http.Request, body []byte, _ []string) answer {
	h := r.Header
	for _, name := range apnsUniqueHeaders {
		if len(h.Values(name)) > 1 {
			return v.reject(r, http.StatusBadRequest, apnsDuplicateHeaders)
		}
	}

	sandbox, path := apnsHost(r.URL.Path)
	token := strings.TrimPrefix(path, apnsDevicePath)
	if token == "" {
		return v.reject(r, http.StatusBadRequest, apnsMissingDeviceToken)
	}
	if !validDeviceToken(token) || v.env.sim.apnsTokens.refuses(token, sandbox) {
		return v.reject(r, http.StatusBadRequest, apnsBadDeviceToken)
	}

	pushType := h.Get("Apns-Push-Type")
	if pushType == "" {
		pushType = "alert"
	}
	if !apnsPushTypes[pushType] {
		return v.reject(r, http.StatusBadRequest, apnsInvalidPushType)
	}

	if reason := v.checkTopic(r, pushType); reason != "" {
		return v.reject(r, http.StatusBadRequest, reason)
	}

	switch h.Get("Apns-Priority") {
	case "", "1", "5", "10": // 1 is the newest, power-first priority
	default:
		return v.reject(r, http.StatusBadRequest, apnsBadPriority)
	}
	if exp := h.Get("Apns-Expiration"); exp != "" {
		if n, err := strconv.ParseInt(exp, 10, 64); err != nil || n < 0 {
			return v.reject(r, http.StatusBadRequest, apnsBadExpirationDate)
		}
	}
	if id := h.Get("Apns-Id"); id != "" && !validUUID(id) {
		return v.reject(r, http.StatusBadRequest, apnsBadMessageID)
	}
	if len(h.Get("Apns-Collapse-Id")) > apnsMaxCollapseID {
		return v.reject(r, http.StatusBadRequest, apnsBadCollapseID)
	}

	if len(body) == 0 {
		return v.reject(r, http.StatusBadRequest, apnsPayloadEmpty)
	}
	limit := apnsMaxPayload
	if pushType == "voip" {
		limit = apnsMaxPayloadVoIP
	}
	if len(body) > limit {
		return v.reject(r, http.StatusRequestEntityTooLarge, apnsPayloadTooLarge)
	}
	if !validAPNsPayload(body) {
		return v.reject(r, http.StatusBadRequest, apnsBadPayload)
	}
	if pushType == "background" {
		if reason := checkBackground(h.Get("Apns-Priority"), body); reason != "" {
			return v.reject(r, http.StatusBadRequest, reason)
		}
	}
	return answer{status: http.StatusOK, accepted: true}.withHeader("apns-id", apnsID(r))
}

// checkTopic applies the topic rules and returns the 400 reason, or "".
//
// Token auth: the topic is required and must be the credentials' bundle id plus the
// push type's suffix; every device token belongs to that bundle, so another bundle
// is DeviceTokenNotForTopic. Certificate auth: a missing topic means the
// certificate's bundle; a topic of another bundle is TopicDisallowed.
func (v *apnsVendor) checkTopic(r *http.Request, pushType string) string {
	topic := r.Header.Get("Apns-Topic")
	bundle, wrongBundle := v.bundleID, apnsDeviceTokenNotForTopic
	if r.Header.Get("Authorization") == "" {
		if cert := clientCert(r); cert != nil {
			bundle, wrongBundle = apnsCertBundle(cert), apnsTopicDisallowed
			if topic == "" {
				topic = bundle
			}
		}
	}
	if topic == "" {
		return apnsMissingTopic
	}
	if !validTopic(topic) {
		return apnsBadTopic
	}
	if topic == bundle+apnsTopicSuffixes[pushType] {
		return ""
	}
	if topic == bundle || strings.HasPrefix(topic, bundle+".") && isTopicSuffix(strings.TrimPrefix(topic, bundle)) {
		return apnsDeviceTokenNotForTopic // right app, wrong kind of topic for the push type
	}
	return wrongBundle
}

func isTopicSuffix(s string) bool {
	for _, suffix := range apnsTopicSuffixes {
		if s == suffix {
			return true
		}
	}
	return false
}

// fault renders an injected fault as APNs would answer it.
func (v *apnsVendor) fault(r *http.Request, _ []byte, hits []faultHit) answer {
	f := hits[0].Fault
	reason := f.Reason
	if reason == "" {
		reason = apnsFaultReasons[f.Status]
	}
	if reason == "" {
		reason = apnsInternalServerError
	}
	return v.reject(r, f.Status, reason).withRetryAfter(f)
}

// apnsError is the APNs error body; Timestamp (ms) is sent with 410 only.
type apnsError struct {
	Reason    string `json:"reason"`
	Timestamp int64  `json:"timestamp,omitempty"`
}

// reject builds an APNs error answer. A 410 carries the time the token stopped
// being valid: now, on the Sim's clock.
func (v *apnsVendor) reject(r *http.Request, status int, reason string) answer {
	body := apnsError{Reason: reason}
	if status == http.StatusGone {
		body.Timestamp = v.env.now().UnixMilli()
	}
	return jsonAnswer(status, reason, body).withHeader("apns-id", apnsID(r))
}

// apnsID echoes the request's apns-id when it is a UUID, else makes one up.
func apnsID(r *http.Request) string {
	if id := r.Header.Get("Apns-Id"); validUUID(id) {
		return id
	}
	return newUUID()
}

// clientCert returns the verified TLS client certificate of r, or nil.
func clientCert(r *http.Request) *x509.Certificate {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return nil
	}
	return r.TLS.VerifiedChains[0][0]
}

// apnsCertBundle returns the bundle id an APNs client certificate is for: its UID
// attribute, else what follows ": " in its common name ("Apple Push Services: <bundle>").
func apnsCertBundle(cert *x509.Certificate) string {
	for _, n := range cert.Subject.Names {
		if n.Type.Equal(oidUID) {
			if s, ok := n.Value.(string); ok && s != "" {
				return s
			}
		}
	}
	if _, bundle, ok := strings.Cut(cert.Subject.CommonName, ": "); ok {
		return strings.TrimSpace(bundle)
	}
	return ""
}

// validDeviceToken reports whether token is an even number of hex digits within
// the length bound.
func validDeviceToken(token string) bool {
	if len(token)%2 != 0 || len(token) > apnsMaxDeviceToken {
		return false
	}
	_, err := hex.DecodeString(token)
	return err == nil
}

// validTopic reports whether a topic looks like a reverse-DNS bundle id with an
// optional suffix: letters, digits, '-', '_' and '.', not starting or ending with '.'.
func validTopic(topic string) bool {
	if topic == "" || len(topic) > 255 || topic[0] == '.' || topic[len(topic)-1] == '.' {
		return false
	}
	for _, c := range topic {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// validAPNsPayload reports whether body is a JSON object holding an "aps" object.
func validAPNsPayload(body []byte) bool {
	// The body is one JSON object whose (last, as encoding/json decodes
	// duplicates) "aps" member is an object. Split once instead of decoding
	// the payload into maps: this ran on every push the simulator took.
	if !json.Valid(body) {
		return false
	}
	members, ok := splitObject(string(body))
	if !ok {
		return false
	}
	for i := len(members) - 1; i >= 0; i-- {
		if members[i].key == "aps" {
			return strings.HasPrefix(members[i].value, "{")
		}
	}
	return false
}

// checkBackground applies Apple's rules for a background push and returns the
// 400 reason, or "": priority 5 (an absent priority means 10), and an aps of
// content-available 1 with no alert, sound or badge. Apple documents the rules
// but not the reasons it answers; BadPriority for the priority and BadPayload
// for the aps are UNCONFIRMED.
func checkBackground(priority string, body []byte) string {
	if priority != "5" {
		return apnsBadPriority
	}
	var p struct {
		APS map[string]json.RawMessage `json:"aps"`
	}
	if json.Unmarshal(body, &p) != nil || string(p.APS["content-available"]) != "1" {
		return apnsBadPayload
	}
	for _, k := range []string{"alert", "sound", "badge"} {
		if _, ok := p.APS[k]; ok {
			return apnsBadPayload
		}
	}
	return ""
}

// validUUID reports whether s is a UUID in the 8-4-4-4-12 hex form.
func validUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// newUUID returns a random (version 4) UUID in upper case, as APNs writes them.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand documents it)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hexUpper = "0123456789ABCDEF"
	out := make([]byte, 0, 36)
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hexUpper[c>>4], hexUpper[c&0xf])
	}
	return string(out)
}

// apnsConfig renders the apns entry of pushd's providers config.
func apnsConfig(c configContext) string {
	return fmt.Sprintf(`apns:
  team_id: %q
  key_id: %q
  key_file: %q
  bundle_id: %q
  endpoint_production: %q
  endpoint_development: %q
  ca_file: %q
  # certificate auth instead of key_file: client certificate %q, key %q
`, c.creds.APNs.TeamID, c.creds.APNs.KeyID, filepath.Join(c.dir, FileAPNsKey), c.creds.APNs.BundleID,
		c.endpoint, c.endpoint+apnsSandboxPrefix, c.caFile, filepath.Join(c.dir, FileAPNsClientCert), filepath.Join(c.dir, FileAPNsClientKey))
}
