package hms

import (
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
}

// SetDefaults fills the endpoints.
func (c *Config) SetDefaults() { c.SetEndpoints(DefaultEndpoint, DefaultAuthEndpoint) }

// Validate reports every problem of the block.
func (c *Config) Validate(report func(key, format string, args ...any)) { c.Check(report) }

// NewSender builds the client.
func (c *Config) NewSender(o push.SenderOptions) (push.Sender, error) {
	return New(Options{ClientID: c.ClientID, ClientSecret: c.ClientSecret, Endpoint: c.Endpoint, AuthEndpoint: c.AuthEndpoint,
		Category: c.Category, CAFile: c.CAFile, Now: o.Now})
}
