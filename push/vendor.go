package push

import (
	"strings"
	"time"
)

// Vendor describes one vendor push service: everything the rest of pushd
// needs to know of it besides its client. Each vendor package exports one,
// the registry (push/vendors) lists them, and config, the daemon, the
// vendor actors and the API loop over that list, so a vendor missing a rule
// fails to compile instead of falling back to a default.
type Vendor struct {
	// Provider is the vendor's name in configs, bindings and metrics.
	Provider Provider
	// NewConfig returns an empty config block (apps[].providers.<name>): a
	// pointer to a struct with yaml tags.
	NewConfig func() VendorConfig
	// QuotaZone is where the vendor's daily quota day starts.
	QuotaZone *time.Location
	// IM reports whether n goes through the vendor's IM (uncapped) channel
	// beyond category IM or VOIP, which every vendor counts as IM (IMCategory);
	// d is the app's defaults for the vendor. Nil: only the category counts.
	IM func(n *Notification, d Profile) bool
	// NeedsTitleAndBody: the vendor refuses a notification without both a title
	// and a body, so a push that gives one shows it in both places.
	NeedsTitleAndBody bool
	// CallCategory is the category of a call push (a call invitation or its
	// cancellation) where its resources profile names none: the vendor's
	// call class, ahead of the provider config's category. "": the vendor has
	// no call class of its own (or none we could confirm), and a call is
	// classified like a message.
	CallCategory string
	// MaxBatch is the most tokens one request carries (Notification.Tokens);
	// 0 or 1: one token a request.
	MaxBatch int
	// CheckToken reports what is wrong with a device token the vendor could
	// never accept, "" when nothing is. Nil: any token.
	CheckToken func(token string) string
}

// ChinaTime is the quota day of the Chinese vendors (UTC+8, no daylight saving).
var ChinaTime = time.FixedZone("CST", 8*3600)

// IMCategory reports whether n's category is IM or VOIP, the IM classes every
// vendor that classifies messages leaves uncapped.
func IMCategory(n *Notification) bool {
	return n.Category == "IM" || n.Category == "VOIP"
}

// VendorConfig is one vendor's config block of one app.
type VendorConfig interface {
	// SetDefaults fills unset fields (endpoints, classification) and trims
	// trailing slashes from endpoints. Set values are kept, even when invalid.
	SetDefaults()
	// Validate reports every problem; key is below the block ("endpoint"),
	// "" for the block itself.
	Validate(report func(key, format string, args ...any))
	// Secrets lists the block's secrets, each with its *_file alternative:
	// the config loader reads the files and redaction hides the values.
	Secrets() []Secret
	// Files lists the block's file paths (secrets' *_file included), which the
	// loader makes relative to the config file's directory.
	Files() []*string
	// Defaults is how the app's pushes look on the vendor where a message's
	// resources profile leaves it open: its channel and IM classification.
	Defaults() Profile
	// NewSender builds the vendor client of the block.
	NewSender(o SenderOptions) (Sender, error)
}

// Secret is one secret of a config block: its key, where its value is, and
// the file that may hold it instead.
type Secret struct {
	Key   string
	Value *string
	File  string
}

// SenderOptions is what a vendor client takes from the node, not the config.
type SenderOptions struct {
	// Now is the clock access tokens and TTLs are judged by. Default time.Now.
	Now func() time.Time
	// PlainHTTP lets a client take a plain-http URL it finds outside the
	// config (FCM's token_uri in its key file): only with the simulator on.
	// Config validation refuses the configured endpoints alike.
	PlainHTTP bool
}

// Profile is how a push looks on one provider: its sound, notification
// channel and IM classification (ZEGO's resourcesID, or the provider
// config's defaults).
type Profile struct {
	Sound, ChannelID, Category, Importance string
	Classification                         *int
	Passthrough                            bool
}

// TrimEndpoint fills an unset endpoint with def and drops trailing slashes,
// so that a client appends "/path" to it as it is.
func TrimEndpoint(s *string, def string) {
	if *s == "" {
		*s = def
	}
	*s = strings.TrimRight(*s, "/")
}
