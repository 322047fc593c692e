package xiaomi

import (
	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/vendorhttp"
)

// Vendor describes MiPush to the rest of pushd: its quota day is China time,
// only the app's approved private channel is IM (any other channel_id is a
// public message), a notification needs a title and a body, and up to
// MaxBatch registration ids go in one request.
func Vendor() push.Vendor {
	return push.Vendor{
		Provider:  push.Xiaomi,
		NewConfig: func() push.VendorConfig { return &Config{} },
		QuotaZone: push.ChinaTime,
		IM: func(n *push.Notification, d push.Profile) bool {
			return n.ChannelID != "" && n.ChannelID == d.ChannelID
		},
		NeedsTitleAndBody: true,
		MaxBatch:          MaxBatch,
	}
}

// Config is the apps[].providers.xiaomi block.
type Config struct {
	// AppSecret is the Authorization key. Required (here or in AppSecretFile).
	AppSecret string `yaml:"app_secret,omitempty"`
	// AppSecretFile is a file holding AppSecret. Default "".
	AppSecretFile string `yaml:"app_secret_file,omitempty"`
	// PackageName is the Android package (restricted_package_name). Required.
	PackageName string `yaml:"package_name,omitempty"`
	// Endpoint is the send host. Default "https://api.xmpush.xiaomi.com".
	Endpoint string `yaml:"endpoint"`
	// ChannelID is the Xiaomi-assigned channel for private (IM) messages. Default "".
	ChannelID string `yaml:"channel_id,omitempty"`
	// CAFile is a PEM bundle to trust instead of the system roots. Default "".
	CAFile string `yaml:"ca_file,omitempty"`
}

// SetDefaults fills the endpoint.
func (c *Config) SetDefaults() { push.TrimEndpoint(&c.Endpoint, DefaultEndpoint) }

// Validate reports every problem of the block.
func (c *Config) Validate(report func(key, format string, args ...any)) {
	ck := vendorhttp.ConfigCheck(report)
	ck.RequireSecret("app_secret", c.AppSecret)
	ck.Require("package_name", c.PackageName)
	ck.Endpoint("endpoint", c.Endpoint)
}

// Secrets is the app secret.
func (c *Config) Secrets() []push.Secret {
	return []push.Secret{{Key: "app_secret", Value: &c.AppSecret, File: c.AppSecretFile}}
}

// Files are the secret and CA files.
func (c *Config) Files() []*string { return []*string{&c.AppSecretFile, &c.CAFile} }

// Defaults is the private channel.
func (c *Config) Defaults() push.Profile { return push.Profile{ChannelID: c.ChannelID} }

// NewSender builds the client.
func (c *Config) NewSender(o push.SenderOptions) (push.Sender, error) {
	return New(Options{AppSecret: c.AppSecret, PackageName: c.PackageName, Endpoint: c.Endpoint, ChannelID: c.ChannelID,
		CAFile: c.CAFile, Now: o.Now})
}
