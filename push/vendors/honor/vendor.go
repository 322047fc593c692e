package honor

import (
	"strings"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/vendorhttp"
)

// Vendor describes Honor Push to the rest of pushd: its quota day is China
// time (UNCONFIRMED), IM is the category alone (sent as importance NORMAL), a
// call push is category VOIP (importance NORMAL, a communication message even
// where the app's config names no category), a notification needs a title
// and a body, and up to MaxTokens tokens go in one request.
func Vendor() push.Vendor {
	return push.Vendor{
		Provider:          Provider,
		CallCategory:      "VOIP",
		NewConfig:         func() push.VendorConfig { return &Config{} },
		QuotaZone:         push.ChinaTime,
		NeedsTitleAndBody: true,
		MaxBatch:          MaxTokens,
	}
}

// Config is the apps[].providers.honor block: the app id, the OAuth client,
// the endpoints (default https://push-api.cloud.honor.com and
// https://iam.developer.honor.com/auth/token) and the category of pushes that
// have none (IM or VOIP: a communication message, importance NORMAL).
type Config struct {
	// AppID is the app's id at Honor (the send URL's). Required.
	AppID                 string `yaml:"app_id,omitempty"`
	vendorhttp.OAuthBlock `yaml:",inline"`
	// BadgeClass is the app's launcher activity class, which Honor's icon
	// badge names. Without it no badge is sent. Default "".
	BadgeClass string `yaml:"badge_class,omitempty"`
}

// SetDefaults fills the endpoints.
func (c *Config) SetDefaults() { c.SetEndpoints(DefaultEndpoint, DefaultAuthEndpoint) }

// Validate reports every problem of the block.
func (c *Config) Validate(report func(key, format string, args ...any)) {
	ck := vendorhttp.ConfigCheck(report)
	ck.Require("app_id", c.AppID)
	c.Check(ck)
	if strings.ContainsAny(c.BadgeClass, " \t\r\n/\"") {
		report("badge_class", "%q is not a class name (the app's launcher activity, e.g. com.example.app.MainActivity)", c.BadgeClass)
	}
}

// NewSender builds the client.
func (c *Config) NewSender(o push.SenderOptions) (push.Sender, error) {
	return New(Options{AppID: c.AppID, ClientID: c.ClientID, ClientSecret: c.ClientSecret, Endpoint: c.Endpoint,
		AuthEndpoint: c.AuthEndpoint, Category: c.Category, BadgeClass: c.BadgeClass, CAFile: c.CAFile, Now: o.Now})
}
