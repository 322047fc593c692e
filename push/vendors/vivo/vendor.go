package vivo

import (
	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/vendorhttp"
)

// Vendor describes vivo Push to the rest of pushd: its quota day is China
// time, classification 1 (a system message) is IM besides the category, a
// notification needs a title and a body, and a list push carries up to
// maxListTargets regIds.
func Vendor() push.Vendor {
	return push.Vendor{
		Provider:  push.Vivo,
		NewConfig: func() push.VendorConfig { return &Config{} },
		QuotaZone: push.ChinaTime,
		IM: func(n *push.Notification, _ push.Profile) bool {
			return n.Classification != nil && *n.Classification == 1
		},
		NeedsTitleAndBody: true,
		MaxBatch:          maxListTargets,
	}
}

// Config is the apps[].providers.vivo block.
type Config struct {
	// AppID is the numeric app id. Required.
	AppID int `yaml:"app_id,omitempty"`
	// AppKey is the app key of the auth call. Required.
	AppKey string `yaml:"app_key,omitempty"`
	// AppSecret signs the auth call. Required (here or in AppSecretFile).
	AppSecret string `yaml:"app_secret,omitempty"`
	// AppSecretFile is a file holding AppSecret. Default "".
	AppSecretFile string `yaml:"app_secret_file,omitempty"`
	// Endpoint is the API host. Default "https://api-push.vivo.com.cn".
	Endpoint string `yaml:"endpoint"`
	// Classification is 0 (operations) or 1 (system message, what IM uses).
	// Default 1.
	Classification *int `yaml:"classification,omitempty"`
	// Category is the message category (IM, ...). Default "".
	Category string `yaml:"category,omitempty"`
	// CAFile is a PEM bundle to trust instead of the system roots. Default "".
	CAFile string `yaml:"ca_file,omitempty"`
}

// SetDefaults fills the endpoint and the classification.
func (c *Config) SetDefaults() {
	push.TrimEndpoint(&c.Endpoint, DefaultEndpoint)
	if c.Classification == nil {
		n := DefaultClassification
		c.Classification = &n
	}
}

// Validate reports every problem of the block.
func (c *Config) Validate(report func(key, format string, args ...any)) {
	ck := vendorhttp.ConfigCheck(report)
	if c.AppID <= 0 {
		ck("app_id", "required: vivo's numeric app id, more than 0")
	}
	ck.Require("app_key", c.AppKey)
	ck.RequireSecret("app_secret", c.AppSecret)
	ck.Endpoint("endpoint", c.Endpoint)
	if cl := c.Classification; cl != nil && *cl != 0 && *cl != 1 {
		ck("classification", "must be 0 (operations) or 1 (system), got %d", *cl)
	}
}

// Secrets is the app secret.
func (c *Config) Secrets() []push.Secret {
	return []push.Secret{{Key: "app_secret", Value: &c.AppSecret, File: c.AppSecretFile}}
}

// Files are the secret and CA files.
func (c *Config) Files() []*string { return []*string{&c.AppSecretFile, &c.CAFile} }

// Defaults are the classification and category.
func (c *Config) Defaults() push.Profile {
	return push.Profile{Classification: c.Classification, Category: c.Category}
}

// NewSender builds the client.
func (c *Config) NewSender(o push.SenderOptions) (push.Sender, error) {
	return New(Options{AppID: c.AppID, AppKey: c.AppKey, AppSecret: c.AppSecret, Endpoint: c.Endpoint,
		Classification: c.Classification, Category: c.Category, CAFile: c.CAFile, Now: o.Now})
}
