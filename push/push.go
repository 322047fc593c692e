// Package push holds the vendor-neutral shape of one push notification and the
// closed set of outcomes a vendor can give for it.
//
// It sits at the bottom of the tree beside storage: the vendor actors (actors/)
// hand a Notification to a Sender, and the vendor clients (push/vendors/*)
// implement Sender and answer with a Result. Nothing here does I/O.
package push

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Provider names a vendor push service.
type Provider string

// The six providers pushd has spoken to from the start; tests and the
// simulator name them. A vendor's descriptor (Vendor) is what the tree loops
// over, and a new vendor names itself in its own package.
const (
	APNs   Provider = "apns"
	FCM    Provider = "fcm"
	HMS    Provider = "hms"
	Xiaomi Provider = "xiaomi"
	OPPO   Provider = "oppo"
	Vivo   Provider = "vivo"
)

// Verdict is a vendor's answer to one push, reduced to what the dispatcher does next.
type Verdict string

// The verdicts. Each vendor client maps its status codes and reasons to these in one table.
const (
	// Delivered: the vendor accepted the push; it is done.
	Delivered Verdict = "delivered"
	// Retry: a temporary failure (flow control, 5xx, network); try again after backoff.
	Retry Verdict = "retry"
	// TokenInvalid: the vendor says the token is dead; unbind it.
	TokenInvalid Verdict = "token_invalid"
	// AuthExpired: the provider credential (JWT, OAuth token, sign) must be refreshed; refresh once and retry.
	AuthExpired Verdict = "auth_expired"
	// QuotaExhausted: the vendor's daily quota is used up; hold the push until the next vendor day.
	QuotaExhausted Verdict = "quota_exhausted"
	// BadRequest: the request or the configuration is wrong; record it and drop the push.
	BadRequest Verdict = "bad_request"
)

// Priority is a message's priority as the API gives it: 1 low, 2 medium, 3 high.
type Priority int

// The priorities.
const (
	PriorityLow    Priority = 1
	PriorityMedium Priority = 2
	PriorityHigh   Priority = 3
)

// VoIP carries the CallKit handle of a call invitation push.
type VoIP struct {
	HandleType  int    `json:"handle_type"`
	HandleValue string `json:"handle_value"`
	HasVideo    bool   `json:"has_video"`
}

// Notification is one push to one device token (or, for batching vendors, to
// several tokens with an identical payload: see Tokens).
type Notification struct {
	// ID identifies this push (the outbox id); vendors that take a request id get it.
	ID string
	// App is the tenant the push belongs to.
	App string
	// Provider is the vendor to push through.
	Provider Provider
	// Token is the device's vendor token.
	Token string
	// Tokens, when set, lists several tokens that get the same payload in one
	// request (Huawei, Xiaomi, OPPO, vivo batch paths). Token is then empty.
	Tokens []string

	// BundleID is the iOS bundle id (APNs topic; VoIP uses BundleID+".voip").
	BundleID string
	// APNsEnv is "development" (sandbox host) or "production".
	APNsEnv string
	// PushType is "alert" or "voip".
	PushType string

	Title   string
	Body    string
	Payload string // the app's own payload string, delivered as custom data
	// Badge is the absolute number the app icon's badge shows: the user's
	// unread count (0: leave the badge alone).
	Badge int
	// BadgeAdd is what this push adds to the badge, for a vendor whose
	// launcher adds up the numbers of the notifications shown (Xiaomi).
	BadgeAdd int
	// Sound, ChannelID, Category come from a resources_id profile or the provider
	// config: the vendor's notification channel and its IM/VOIP classification.
	Sound     string
	ChannelID string
	Category  string
	// Importance is the notification importance where the vendor takes one
	// (Huawei "NORMAL"/"LOW"); empty is the vendor default.
	Importance string
	// Classification is vivo's classification (0 operations, 1 system/IM); nil is the provider config's.
	Classification *int
	// Passthrough sends a data (pass-through) message instead of a notification.
	Passthrough bool
	// Wake asks for the app to run when the notification arrives, besides
	// showing it (APNs content-available on an alert): a call's cancellation
	// sets it, so that the app can end the call it shows.
	Wake bool

	Priority Priority
	// CollapseID makes a vendor replace an earlier push with the same id; duplicated
	// pushes after a crash carry the same one.
	CollapseID string
	// Expiration is when the vendor should stop trying to deliver; zero means the vendor default.
	Expiration time.Time
	VoIP       *VoIP
	// Data is extra key/values carried to the app (message_id, sender, stream, seq, call_id).
	Data map[string]string
	// DryRun asks the client to build the request without sending it.
	DryRun bool
	// SkipExchange tells the client that nobody reads the Result's Exchange
	// (the outbox's pushes), so it need not build one: the record copied the
	// body and headers of every push, and for a batch a second, masked
	// encoding of its whole form. POST /v1/push/test and dry runs leave it
	// false.
	SkipExchange bool
}

// Exchange is the vendor request as it was (or would be) sent, secrets masked,
// and what the vendor answered. POST /v1/push/test shows it.
type Exchange struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
	Status  int               `json:"status,omitempty"`
	Answer  string            `json:"answer,omitempty"`
}

// Result is what a Sender reports for one Notification.
type Result struct {
	Verdict Verdict
	// Status is the HTTP status, and Reason the vendor's own code or reason string.
	Status int
	Reason string
	// RetryAfter is the vendor's Retry-After, when it gave one.
	RetryAfter time.Duration
	// InvalidTokens lists tokens of a batch that the vendor called invalid while
	// the rest were delivered (Huawei illegal_tokens, Xiaomi bad_regids, vivo invalidUsers).
	InvalidTokens []string
	// InvalidSince is when the vendor says the token stopped being valid (APNs 410
	// timestamp); zero when unknown. A binding registered after it is kept.
	InvalidSince time.Time
	// Exchange is the request and answer, for debugging and POST /v1/push/test.
	Exchange *Exchange
}

// Sender sends notifications for one (app, provider). Implementations are safe for
// concurrent use and honour ctx's deadline; a network error is a Retry result, not an error.
type Sender interface {
	Send(ctx context.Context, n *Notification) Result
	// Refresh drops the cached provider credential so that the next Send fetches a new one.
	Refresh()
}

// MaskSecret shows the first 4 and last 4 characters of a secret and hides the rest.
func MaskSecret(s string) string {
	if len(s) <= 12 {
		return "****"
	}
	return s[:4] + "…" + s[len(s)-4:]
}

// Targets returns the tokens n is for: Token, or Tokens without duplicates,
// at most limit of them. Every vendor client refuses a bad target with the
// same reason codes: TokenAndTokens, MissingToken, EmptyToken, TooManyTokens.
func (n *Notification) Targets(limit int) ([]string, error) {
	switch {
	case n.Token != "" && len(n.Tokens) > 0:
		return nil, errors.New("TokenAndTokens: the notification sets both Token and Tokens")
	case n.Token != "":
		return []string{n.Token}, nil
	case len(n.Tokens) == 0:
		return nil, errors.New("MissingToken: the notification has no Token or Tokens")
	}
	seen := make(map[string]bool, len(n.Tokens))
	out := make([]string, 0, len(n.Tokens))
	for i, t := range n.Tokens {
		if t == "" {
			return nil, fmt.Errorf("EmptyToken: Tokens[%d] is empty", i)
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	if len(out) > limit {
		return nil, fmt.Errorf("TooManyTokens: %d tokens; the vendor takes at most %d a request", len(out), limit)
	}
	return out, nil
}
