package push_test

import (
	"context"
	"testing"

	"github.com/pushd-im/pushd/push"
)

func TestScrubReasonDropsTokensAndURLPaths(t *testing.T) {
	tok := "0123456789abcdef0123456789abcdef"
	for _, c := range []struct{ in, want string }{
		{`NetworkError: Post "https://api.push.apple.com/3/device/` + tok + `": dial tcp: i/o timeout`,
			`NetworkError: Post "https://api.push.apple.com/…": dial tcp: i/o timeout`},
		{`OAuthTokenError: Post "https://oauth.example.com/token?secret=x": EOF`, `OAuthTokenError: Post "https://oauth.example.com/…": EOF`},
		{"NetworkError: Get https://u:p@example.com: EOF", "NetworkError: Get https://example.com: EOF"},
		{"invalid regid " + tok + " in request", "invalid regid <token> in request"},
		{"BadDeviceToken", "BadDeviceToken"},
		{"", ""},
	} {
		if got := push.ScrubReason(c.in, tok, "short"); got != c.want {
			t.Errorf("ScrubReason(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// leaky is a vendor client whose reasons quote the token and the URL.
type leaky struct{}

func (leaky) Send(_ context.Context, n *push.Notification) push.Result {
	return push.Result{Verdict: push.Retry, Reason: "NetworkError: Post https://vendor.example/send/" + n.Token + " and batch " + n.Tokens[0]}
}
func (leaky) Refresh() {}

func TestScrubbedSenderScrubsEveryTargetToken(t *testing.T) {
	s := push.ScrubbedSender{Sender: leaky{}}
	r := s.Send(context.Background(), &push.Notification{Token: "token-one-0123456789", Tokens: []string{"token-two-0123456789"}})
	if want := "NetworkError: Post https://vendor.example/… and batch <token>"; r.Reason != want || r.Verdict != push.Retry {
		t.Errorf("got %q (%s), want %q (retry)", r.Reason, r.Verdict, want)
	}
}
