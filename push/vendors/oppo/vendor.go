package oppo

import (
	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/vendorhttp"
)

// Vendor describes OPPO Push to the rest of pushd: its quota day is China
// time, a private channel_id (the old scheme) is IM besides the category (the
// new one), a notification needs a title and a body, and a broadcast carries
// up to maxTargets regIds.
func Vendor() push.Vendor {
	return push.Vendor{
		Provider:          push.OPPO,
		NewConfig:         func() push.VendorConfig { return &Config{} },
		QuotaZone:         push.ChinaTime,
		IM:                func(n *push.Notification, _ push.Profile) bool { return n.ChannelID != "" },
		NeedsTitleAndBody: true,
		MaxBatch:          maxTargets,
	}
}

// Config is the apps[].providers.oppo block (OPUSH / HeyTap).
type Config struct {
	// AppKey is the app_key of the auth call. Required.
	AppKey string `yaml:"app_key,omitempty"`
	// MasterSecret signs the auth call. Required (here or in MasterSecretFile).
	MasterSecret string `yaml:"master_secret,omitempty"`
	// MasterSecretFile is a file holding MasterSecret. Default "".
	MasterSecretFile string `yaml:"master_secret_file,omitempty"`
	// Endpoint is the API host. Default "https://api.push.oppomobile.com".
	Endpoint string `yaml:"endpoint"`
	// ChannelID is the Android notification channel (the private channel for IM). Default "".
	ChannelID string `yaml:"channel_id,omitempty"`
	// Category is the message category (IM, ...). Default "".
	Category string `yaml:"category,omitempty"`
	// CAFile is a PEM bundle to trust instead of the system roots. Default "".
	CAFile string `yaml:"ca_file,omitempty"`
}

// SetDefaults fills the endpoint.
func (c *Config) SetDefaults() { push.TrimEndpoint(&c.Endpoint, DefaultEndpoint) }

// Validate reports every problem of the block.
func (c *Config) Validate(report func(key, format string, args ...any)) {
	ck := vendorhttp.ConfigCheck(report)
	ck.Require("app_key", c.AppKey)
	ck.RequireSecret("master_secret", c.MasterSecret)
	ck.Endpoint("endpoint", c.Endpoint)
}

// Secrets is the master secret.
func (c *Config) Secrets() []push.Secret {
	return []push.Secret{{Key: "master_secret", Value: &c.MasterSecret, File: c.MasterSecretFile}}
}

// Files are the secret and CA files.
func (c *Config) Files() []*string { return []*string{&c.MasterSecretFile, &c.CAFile} }

// Defaults are the channel and category.
func (c *Config) Defaults() push.Profile {
	return push.Profile{ChannelID: c.ChannelID, Category: c.Category}
}

// NewSender builds the client.
func (c *Config) NewSender(o push.SenderOptions) (push.Sender, error) {
	return New(Options{AppKey: c.AppKey, MasterSecret: c.MasterSecret, Endpoint: c.Endpoint, ChannelID: c.ChannelID,
		Category: c.Category, CAFile: c.CAFile, Now: o.Now})
}
