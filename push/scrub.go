package push

import (
	"context"
	"net/url"
	"regexp"
	"strings"
)

// A verdict's reason is logged, stored as the binding's last_reason and shown
// by the API, so it must carry no device token: APNs has the token in its
// request path, and Go's network errors (*url.Error) quote the whole URL.

// minScrubbedToken is the shortest target token removed from a reason by
// value; a shorter string is too likely to be a word of the reason itself
// (every real vendor token is far longer).
const minScrubbedToken = 8

// urlPattern finds absolute URLs in a reason, up to a space or quote.
var urlPattern = regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.-]*://[^\s"'<>]+`)

// ScrubReason returns reason with every URL cut to its scheme and host ("https://api.push.apple.com/…"),
// and every one of tokens (the push's targets) replaced by "<token>".
func ScrubReason(reason string, tokens ...string) string {
	if reason == "" {
		return reason
	}
	reason = urlPattern.ReplaceAllStringFunc(reason, func(s string) string {
		// Punctuation that ends a sentence ends the URL too.
		trimmed := strings.TrimRight(s, ":,.;)")
		tail := s[len(trimmed):]
		u, err := url.Parse(trimmed)
		if err != nil || u.Host == "" {
			return "<url>" + tail
		}
		out := u.Scheme + "://" + u.Host // userinfo dropped: it is a credential
		if u.Opaque != "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			out += "/…"
		}
		return out + tail
	})
	for _, t := range tokens {
		if len(t) >= minScrubbedToken {
			reason = strings.ReplaceAll(reason, t, "<token>")
		}
	}
	return reason
}

// ScrubbedSender is a vendor client whose results' reasons are scrubbed
// (ScrubReason) of the push's tokens and of URLs. The daemon wraps every
// vendor client in one, so no client's error text reaches a log, a verdict
// record or an API answer unscrubbed.
type ScrubbedSender struct {
	Sender Sender
}

// Send sends n with the wrapped client and scrubs the result's reason.
func (s ScrubbedSender) Send(ctx context.Context, n *Notification) Result {
	r := s.Sender.Send(ctx, n)
	if r.Reason != "" {
		r.Reason = ScrubReason(r.Reason, append([]string{n.Token}, n.Tokens...)...)
	}
	return r
}

// Refresh drops the wrapped client's cached credential.
func (s ScrubbedSender) Refresh() { s.Sender.Refresh() }
