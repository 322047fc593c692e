package vendorsim

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/pushd-im/pushd/push"
)

// honorProvider is Honor Push's name (the client package's honor.Provider:
// the simulator does not import the client it stands in for).
const honorProvider push.Provider = "honor"

func honorSpec() vendorSpec {
	return vendorSpec{
		provider:   honorProvider,
		authPath:   honorTokenPath,
		newHandler: newHonorHandler,
		config:     honorConfig,
	}
}

// Honor Push facts (docs/vendors.md, Honor). UNCONFIRMED ones are marked.
const (
	honorTokenPath  = "/auth/token"
	honorSendPrefix = "/api/v1/"
	honorSendSuffix = "/sendMessage"
	// honorAccessTokenTTL is an access token's life (expires_in). UNCONFIRMED: 1 h as Huawei's.
	honorAccessTokenTTL = time.Hour
	// honorMaxTokens, honorMaxBody: UNCONFIRMED, Huawei's limits.
	honorMaxTokens = 1000
	honorMaxBody   = 4096
)

// Honor's answer codes. 200 is confirmed; the rest are Huawei's, which
// Honor's API mirrors (UNCONFIRMED each), as numbers on the wire.
const (
	honorCodeSuccess      = 200
	honorCodeParam        = 80100001
	honorCodeStructure    = 80100003
	honorCodeAuth         = 80200001
	honorCodeTokenExpired = 80200003
	honorCodeAllInvalid   = 80300007
	honorCodeTooLarge     = 80300008
	honorCodeTokenCount   = 80300010
	honorCodeInternal     = 81000001
)

// honorCredentials are the simulated app's ids, derived from the CA key.
type honorCredentials struct{ appID, clientID, clientSecret string }

func honorCredentialsOf(c *Credentials) honorCredentials {
	return honorCredentials{
		appID:        c.derive("honor app_id", "0123456789", 9),
		clientID:     c.derive("honor client_id", "0123456789", 12),
		clientSecret: c.derive("honor client_secret", "0123456789abcdef", 32),
	}
}

// honorVendor checks Honor Push requests and client-credentials grants.
type honorVendor struct {
	env   *vendorEnv
	creds honorCredentials
}

func newHonorHandler(env *vendorEnv) (http.Handler, error) {
	v := &honorVendor{env: env, creds: honorCredentialsOf(env.creds)}
	mux := http.NewServeMux()
	mux.HandleFunc(honorTokenPath, v.handleToken)
	mux.Handle(honorSendPrefix, env.sendHandler(sendRoute{targets: v.targets, admit: v.admit, fault: v.fault, serve: v.serve}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeAnswer(w, jsonAnswer(http.StatusNotFound, "NotFound", map[string]string{"message": "Not Found: " + r.URL.Path}))
	})
	return mux, nil
}

// honorConfig renders the honor entry of pushd's providers config.
func honorConfig(c configContext) string {
	h := honorCredentialsOf(c.creds)
	return fmt.Sprintf(`honor:
  app_id: %q
  client_id: %q
  client_secret: %q
  endpoint: %q
  auth_endpoint: %q
  category: IM  # communication messages (importance NORMAL) are not counted by the simulated daily quota
  badge_class: im.pushd.demo.MainActivity  # the demo app's launcher activity: pushes set the icon's badge
  ca_file: %q
`, h.appID, h.clientID, h.clientSecret, c.endpoint, c.authEndpoint, c.caFile)
}

// handleToken is the client-credentials grant. The error shape is the OAuth
// standard's (UNCONFIRMED for Honor).
func (v *honorVendor) handleToken(w http.ResponseWriter, r *http.Request) {
	refuse := func(status int, code, why string) {
		writeAnswer(w, jsonAnswer(status, code, map[string]string{"error": code, "error_description": why}))
	}
	if r.Method != http.MethodPost {
		refuse(http.StatusMethodNotAllowed, "invalid_request", "POST only")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if r.ParseForm() != nil {
		refuse(http.StatusBadRequest, "invalid_request", "the form does not parse")
		return
	}
	f := r.PostForm
	switch {
	case f.Get("grant_type") != "client_credentials":
		refuse(http.StatusBadRequest, "unsupported_grant_type", "grant_type must be client_credentials")
	case !secretEqual(f.Get("client_id"), v.creds.clientID) || !secretEqual(f.Get("client_secret"), v.creds.clientSecret):
		refuse(http.StatusUnauthorized, "invalid_client", "unknown client_id or wrong client_secret")
	default:
		writeAnswer(w, v.env.oauthTokenAnswer(honorAccessTokenTTL))
	}
}

// honorAnswer is Honor's {"code","message","data"} with HTTP status.
func honorAnswer(status, code int, message string, data map[string]any) answer {
	a := jsonAnswer(status, strconv.Itoa(code), map[string]any{"code": code, "message": message, "data": data})
	a.accepted = code == honorCodeSuccess
	if a.accepted {
		a.reason = ""
	}
	return a
}

// honorRequest is the part of a sendMessage body the Sim reads.
type honorRequest struct {
	Token   []string        `json:"token"`
	Data    json.RawMessage `json:"data"`
	Android struct {
		TTL          string `json:"ttl"`
		Notification *struct {
			Title       string `json:"title"`
			Body        string `json:"body"`
			Importance  string `json:"importance"`
			ClickAction *struct {
				Type int `json:"type"`
			} `json:"clickAction"`
			Badge *struct {
				AddNum     *int   `json:"addNum"`
				SetNum     *int   `json:"setNum"`
				BadgeClass string `json:"badgeClass"`
			} `json:"badge"`
		} `json:"notification"`
	} `json:"android"`
}

func (v *honorVendor) targets(_ *http.Request, body []byte) []string {
	var m honorRequest
	_ = json.Unmarshal(body, &m) // best effort: what parses
	return m.Token
}

// admit checks the path's app id, the method, the access token and the
// timestamp header every call carries.
func (v *honorVendor) admit(r *http.Request) (answer, bool) {
	id := pathParam(r.URL.Path, honorSendPrefix, honorSendSuffix)
	if id == "" || r.Method != http.MethodPost {
		return jsonAnswer(http.StatusNotFound, "NotFound", map[string]string{"message": "Not Found: " + r.URL.Path}), false
	}
	tok, ok := bearerToken(r)
	switch {
	case !ok || id != v.creds.appID:
		return honorAnswer(http.StatusUnauthorized, honorCodeAuth, "authentication error", nil), false
	case !v.env.accessTokenLive(tok):
		return honorAnswer(http.StatusUnauthorized, honorCodeTokenExpired, "access token expired", nil), false
	}
	if _, err := strconv.ParseInt(r.Header.Get("timestamp"), 10, 64); err != nil {
		return honorAnswer(http.StatusBadRequest, honorCodeParam, "the timestamp header must be the time in milliseconds", nil), false
	}
	return answer{}, true
}

// fault renders injected faults: a token fault with status 400 and no reason
// (or reason 80300007) marks its tokens dead and the message is served; any
// other answers with its status, its reason or a code for the status.
func (v *honorVendor) fault(_ *http.Request, body []byte, hits []faultHit) answer {
	var dead []string
	for _, h := range hits {
		f := h.Fault
		if (f.Reason == strconv.Itoa(honorCodeAllInvalid) || f.Reason == "" && f.Status == http.StatusBadRequest) && f.Token != "" {
			dead = append(dead, h.Tokens...)
			continue
		}
		code, err := strconv.Atoi(f.Reason)
		if err != nil {
			code = map[int]int{http.StatusUnauthorized: honorCodeTokenExpired, http.StatusRequestEntityTooLarge: honorCodeTooLarge}[f.Status]
		}
		if code == 0 {
			code = honorCodeParam
			if f.Status >= 500 {
				code = honorCodeInternal
			}
		}
		return honorAnswer(f.Status, code, "injected fault", nil).withRetryAfter(f)
	}
	return v.handle(body, dead)
}

func (v *honorVendor) serve(_ *http.Request, body []byte, _ []string) answer {
	return v.handle(body, nil)
}

// handle checks a sendMessage body as Honor does, treats dead tokens (and
// those in dead) as expired, counts the daily quota of marketing messages
// (importance LOW) and answers.
func (v *honorVendor) handle(body []byte, dead []string) answer {
	var m honorRequest
	if err := json.Unmarshal(body, &m); err != nil {
		return honorAnswer(http.StatusBadRequest, honorCodeStructure, "illegal message structure: "+err.Error(), nil)
	}
	if len(m.Token) == 0 || len(m.Token) > honorMaxTokens {
		return honorAnswer(http.StatusBadRequest, honorCodeTokenCount, fmt.Sprintf("token count should be within 1 and %d", honorMaxTokens), nil)
	}
	if why := m.check(); why != "" {
		return honorAnswer(http.StatusBadRequest, honorCodeParam, why, nil)
	}
	m.Token = nil
	if b, _ := json.Marshal(m); len(b) > honorMaxBody {
		return honorAnswer(http.StatusBadRequest, honorCodeTooLarge, "message body too large", nil)
	}
	var tokens, expired []string
	_ = json.Unmarshal(body, &struct {
		Token *[]string `json:"token"`
	}{&tokens})
	for _, t := range tokens {
		if t == "" || deadToken(t) || slices.Contains(dead, t) {
			expired = append(expired, t)
		}
	}
	if len(expired) == len(tokens) {
		a := honorAnswer(http.StatusOK, honorCodeAllInvalid, "all the tokens are invalid", nil)
		a.invalidTokens = expired
		return a
	}
	if n := m.Android.Notification; n != nil && n.Importance != "NORMAL" {
		if now := v.env.now(); !v.env.quota.take(now, len(tokens)-len(expired)) {
			// UNCONFIRMED: Honor's answer past its marketing quota; the Sim
			// answers flow control until the next China day, as for Huawei.
			secs := int64(math.Ceil(untilNextQuotaDay(now).Seconds()))
			return honorAnswer(http.StatusServiceUnavailable, http.StatusServiceUnavailable, "flow control: the daily quota is used up", nil).
				withHeader("Retry-After", strconv.FormatInt(secs, 10))
		}
	}
	a := honorAnswer(http.StatusOK, honorCodeSuccess, "Success", map[string]any{
		"sendResult": true, "requestId": strconv.FormatInt(v.env.now().UnixNano(), 36), "failTokens": []string{}, "expireTokens": expired,
	})
	a.invalidTokens = expired
	return a
}

// check reports what Honor refuses in a message: a notification without a
// title, a body or a click action, an importance other than LOW or NORMAL,
// a badge without its class or with a number out of range, data that is not
// a JSON object in a string, a ttl that is not "<seconds>s".
func (m *honorRequest) check() string {
	if n := m.Android.Notification; n != nil {
		switch {
		case n.Title == "" || n.Body == "":
			return "android.notification needs a title and a body"
		case n.ClickAction == nil || n.ClickAction.Type < 1 || n.ClickAction.Type > 3:
			return "android.notification.clickAction.type must be 1, 2 or 3"
		case n.Importance != "" && n.Importance != "LOW" && n.Importance != "NORMAL":
			return "android.notification.importance must be LOW or NORMAL"
		case n.Badge != nil && n.Badge.BadgeClass == "":
			return "android.notification.badge.badgeClass is required"
		case n.Badge != nil && n.Badge.AddNum != nil && (*n.Badge.AddNum < 1 || *n.Badge.AddNum > 99),
			n.Badge != nil && n.Badge.SetNum != nil && (*n.Badge.SetNum < 0 || *n.Badge.SetNum > 99):
			return "android.notification.badge.addNum must be in [1, 99] and setNum in [0, 99]"
		}
	} else if len(m.Data) == 0 {
		return "a message needs android.notification or data"
	}
	if len(m.Data) > 0 {
		var s string
		var obj map[string]any
		if json.Unmarshal(m.Data, &s) != nil || json.Unmarshal([]byte(s), &obj) != nil {
			return "data must be a JSON object in a string"
		}
	}
	if t := m.Android.TTL; t != "" {
		if secs, err := strconv.ParseInt(t[:len(t)-1], 10, 64); t[len(t)-1] != 's' || err != nil || secs < 0 {
			return "android.ttl must be whole seconds with an s"
		}
	}
	return ""
}
