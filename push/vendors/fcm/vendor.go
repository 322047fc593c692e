package fcm

import (
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/vendorhttp"
)

// Vendor describes FCM to the rest of pushd: no daily quota (its per-minute
// quota is a retry), one token a request.
func Vendor() push.Vendor {
	return push.Vendor{
		Provider:  push.FCM,
		NewConfig: func() push.VendorConfig { return &Config{} },
		QuotaZone: time.UTC,
	}
}

// Config is the apps[].providers.fcm block: Firebase Cloud Messaging HTTP v1.
type Config struct {
	// ServiceAccountFile is the service-account JSON key; its token_uri is the OAuth endpoint. Required.
	ServiceAccountFile string `yaml:"service_account_file,omitempty"`
	// ProjectID overrides the project_id of the service account file. Default "".
	ProjectID string `yaml:"project_id,omitempty"`
	// Endpoint is the send host. Default "https://fcm.googleapis.com".
	Endpoint string `yaml:"endpoint"`
	// CAFile is a PEM bundle to trust instead of the system roots. Default "".
	CAFile string `yaml:"ca_file,omitempty"`
}

// SetDefaults fills the endpoint.
func (c *Config) SetDefaults() { push.TrimEndpoint(&c.Endpoint, DefaultEndpoint) }

// Validate reports every problem of the block.
func (c *Config) Validate(report func(key, format string, args ...any)) {
	ck := vendorhttp.ConfigCheck(report)
	ck.Require("service_account_file", c.ServiceAccountFile)
	ck.Endpoint("endpoint", c.Endpoint)
}

// Secrets is none: the service account is a file the client reads.
func (c *Config) Secrets() []push.Secret { return nil }

// Files are the service account and CA files.
func (c *Config) Files() []*string { return []*string{&c.ServiceAccountFile, &c.CAFile} }

// Defaults is empty.
func (c *Config) Defaults() push.Profile { return push.Profile{} }

// NewSender builds the client.
func (c *Config) NewSender(o push.SenderOptions) (push.Sender, error) {
	return New(Options{ServiceAccountFile: c.ServiceAccountFile, ProjectID: c.ProjectID, Endpoint: c.Endpoint, CAFile: c.CAFile,
		HTTPSOnly: !o.PlainHTTP})
}
