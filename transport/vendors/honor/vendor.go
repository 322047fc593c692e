package honor

import (
	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/transport/vendors/vendorhttp"
)

// Vendor describes Honor Push to the rest of pushd: its quota day is China
// time (UNCONFIRMED), IM is the category alone (sent as importance NORMAL), a
// notification needs a title and a body, and up to MaxTokens tokens go in one
// request.
func Vendor() push.Vendor {
	return push.Vendor{
		Provider:          Provider,
		NewConfig:         func() push.VendorConfig { return &Config{} },
		QuotaZone:         push.ChinaTime,
		NeedsTitleAndBody: true,
		MaxBatch:          MaxTokens,
	}
}

// Config is the apps[].providers.honor block.
type Config struct {
	// AppID is the app's id at Honor (the send URL's). Required.
	AppID string `yaml:"app_id,omitempty"`
	// ClientID is the OAuth client id. Required.
	ClientID string `yaml:"client_id,omitempty"`
	// ClientSecret is the OAuth client secret. Required (here or in ClientSecretFile).
	ClientSecret string `yaml:"client_secret,omitempty"`
	// ClientSecretFile is a file holding ClientSecret. Default "".
	ClientSecretFile string `yaml:"client_secret_file,omitempty"`
	// Endpoint is the send host. Default "https://push-api.cloud.honor.com".
	Endpoint string `yaml:"endpoint"`
	// AuthEndpoint is the full token URL. Default "https://iam.developer.honor.com/auth/token".
	AuthEndpoint string `yaml:"auth_endpoint"`
	// Category is the class of every push without one: IM or VOIP sends it as
	// a communication message (importance NORMAL, uncapped). Default "".
	Category string `yaml:"category,omitempty"`
	// CAFile is a PEM bundle to trust instead of the system roots. Default "".
	CAFile string `yaml:"ca_file,omitempty"`
}

// SetDefaults fills the endpoints.
func (c *Config) SetDefaults() {
	push.TrimEndpoint(&c.Endpoint, DefaultEndpoint)
	if c.AuthEndpoint == "" {
		c.AuthEndpoint = DefaultAuthEndpoint
	}
}

// Validate reports every problem of the block.
func (c *Config) Validate(report func(key, format string, args ...any)) {
	ck := vendorhttp.ConfigCheck(report)
	ck.Require("app_id", c.AppID)
	ck.Require("client_id", c.ClientID)
	ck.RequireSecret("client_secret", c.ClientSecret)
	ck.Endpoint("endpoint", c.Endpoint)
	ck.Endpoint("auth_endpoint", c.AuthEndpoint)
}

// Secrets is the client secret.
func (c *Config) Secrets() []push.Secret {
	return []push.Secret{{Key: "client_secret", Value: &c.ClientSecret, File: c.ClientSecretFile}}
}

// Files are the secret and CA files.
func (c *Config) Files() []*string { return []*string{&c.ClientSecretFile, &c.CAFile} }

// Defaults is the configured category.
func (c *Config) Defaults() push.Profile { return push.Profile{Category: c.Category} }

// NewSender builds the client.
func (c *Config) NewSender(o push.SenderOptions) (push.Sender, error) {
	return New(Options{AppID: c.AppID, ClientID: c.ClientID, ClientSecret: c.ClientSecret, Endpoint: c.Endpoint,
		AuthEndpoint: c.AuthEndpoint, Category: c.Category, CAFile: c.CAFile, Now: o.Now})
}
