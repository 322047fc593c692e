package hms

import (
	"strings"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/vendorhttp"
)

// Vendor describes Huawei Push Kit to the rest of pushd: its quota day is
// China time, IM is the category alone, a call push is category VOIP (Huawei's
// voice and video call class), a notification needs a title and a body, and
// up to MaxTokens tokens go in one request.
func Vendor() push.Vendor {
	return push.Vendor{
		Provider:          push.HMS,
		CallCategory:      "VOIP",
		NewConfig:         func() push.VendorConfig { return &Config{} },
		QuotaZone:         push.ChinaTime,
		NeedsTitleAndBody: true,
		MaxBatch:          MaxTokens,
	}
}

// Config is the apps[].providers.hms block: the OAuth client, the endpoints
// (default https://push-api.cloud.huawei.com and
// https://oauth-login.cloud.huawei.com/oauth2/v3/token) and the category
// Huawei approved for the app (IM, VOIP, ...).
type Config struct {
	vendorhttp.OAuthBlock `yaml:",inline"`
	// BadgeClass is the app's launcher activity class, which Huawei's icon
	// badge names (android.notification.badge.class). Without it no badge
	// is sent. Default "".
	BadgeClass string `yaml:"badge_class,omitempty"`
}

// SetDefaults fills the endpoints.
func (c *Config) SetDefaults() { c.SetEndpoints(DefaultEndpoint, DefaultAuthEndpoint) }

// Validate reports every problem of the block.
func (c *Config) Validate(report func(key, format string, args ...any)) {
	c.Check(report)
	checkBadgeClass(c.BadgeClass, report)
}

// checkBadgeClass refuses a badge class that cannot be a Java class name.
func checkBadgeClass(class string, report func(key, format string, args ...any)) {
	if strings.ContainsAny(class, " \t\r\n/\"") {
		report("badge_class", "%q is not a class name (the app's launcher activity, e.g. com.example.app.MainActivity)", class)
	}
}

// NewSender builds the client.
func (c *Config) NewSender(o push.SenderOptions) (push.Sender, error) {
	return New(Options{ClientID: c.ClientID, ClientSecret: c.ClientSecret, Endpoint: c.Endpoint, AuthEndpoint: c.AuthEndpoint,
		Category: c.Category, BadgeClass: c.BadgeClass, CAFile: c.CAFile, Now: o.Now})
}
