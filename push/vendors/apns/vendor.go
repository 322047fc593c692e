package apns

import (
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/vendorhttp"
)

// Vendor describes APNs to the rest of pushd: no daily quota (its day is UTC),
// one token a request, and device tokens in hexadecimal.
func Vendor() push.Vendor {
	return push.Vendor{
		Provider:   push.APNs,
		NewConfig:  func() push.VendorConfig { return &Config{} },
		QuotaZone:  time.UTC,
		CheckToken: checkToken,
	}
}

func checkToken(token string) string {
	for i := 0; i < len(token); i++ {
		if c := token[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return "an APNs device token is hexadecimal"
		}
	}
	return ""
}

// Config is the apps[].providers.apns block. It authenticates with a token key
// (TeamID, KeyID, KeyFile) or with a TLS client certificate (CertFile), not both.
type Config struct {
	// TeamID is the Apple developer team id (JWT iss). Default "".
	TeamID string `yaml:"team_id,omitempty"`
	// KeyID is the id of the .p8 signing key (JWT kid). Default "".
	KeyID string `yaml:"key_id,omitempty"`
	// KeyFile is the .p8 (PKCS#8 EC P-256) signing key. Default "".
	KeyFile string `yaml:"key_file,omitempty"`
	// CertFile is a .p12 client certificate, the alternative to the token key. Default "".
	CertFile string `yaml:"cert_file,omitempty"`
	// CertPassword unlocks CertFile. Default "".
	CertPassword string `yaml:"cert_password,omitempty"`
	// CertPasswordFile is a file holding CertPassword. Default "".
	CertPasswordFile string `yaml:"cert_password_file,omitempty"`
	// BundleID is the app's bundle id, the apns-topic (VoIP adds ".voip"). Required.
	BundleID string `yaml:"bundle_id,omitempty"`
	// EndpointProduction is the host for production tokens. Default "https://api.push.apple.com".
	EndpointProduction string `yaml:"endpoint_production"`
	// EndpointDevelopment is the host for development (sandbox) tokens.
	// Default "https://api.sandbox.push.apple.com".
	EndpointDevelopment string `yaml:"endpoint_development"`
	// CAFile is a PEM bundle to trust instead of the system roots (for a simulator). Default "".
	CAFile string `yaml:"ca_file,omitempty"`
	// DefaultEnv is the apns_env of a binding that names none: production,
	// development or auto. Default "production".
	DefaultEnv string `yaml:"default_env"`
}

// SetDefaults fills the endpoints and the default environment.
func (c *Config) SetDefaults() {
	push.TrimEndpoint(&c.EndpointProduction, DefaultEndpointProduction)
	push.TrimEndpoint(&c.EndpointDevelopment, DefaultEndpointDevelopment)
	if c.DefaultEnv == "" {
		c.DefaultEnv = EnvProduction
	}
}

// Validate reports every problem of the block.
func (c *Config) Validate(report func(key, format string, args ...any)) {
	ck := vendorhttp.ConfigCheck(report)
	token := c.TeamID != "" || c.KeyID != "" || c.KeyFile != ""
	cert := c.CertFile != ""
	switch {
	case !token && !cert:
		ck("", "set team_id, key_id and key_file (token auth) or cert_file (certificate auth)")
	case token && cert:
		ck("", "set team_id, key_id and key_file (token auth) or cert_file (certificate auth), not both")
	case token:
		ck.RequireTogether([]string{"team_id", "key_id", "key_file"}, []string{c.TeamID, c.KeyID, c.KeyFile})
	}
	if !cert && c.CertPassword != "" {
		ck("cert_password", "is only used with cert_file")
	}
	ck.Require("bundle_id", c.BundleID)
	ck.Endpoint("endpoint_production", c.EndpointProduction)
	ck.Endpoint("endpoint_development", c.EndpointDevelopment)
	switch c.DefaultEnv {
	case EnvProduction, EnvDevelopment, EnvAuto:
	default:
		ck("default_env", "must be production, development or auto, got %q", c.DefaultEnv)
	}
}

// Secrets is the certificate's password.
func (c *Config) Secrets() []push.Secret {
	return []push.Secret{{Key: "cert_password", Value: &c.CertPassword, File: c.CertPasswordFile}}
}

// Files are the key, certificate, password and CA files.
func (c *Config) Files() []*string {
	return []*string{&c.KeyFile, &c.CertFile, &c.CertPasswordFile, &c.CAFile}
}

// Defaults is empty: the client falls back to BundleID as the topic itself.
func (c *Config) Defaults() push.Profile { return push.Profile{} }

// NewSender builds the client.
func (c *Config) NewSender(push.SenderOptions) (push.Sender, error) {
	return New(Options{
		TeamID: c.TeamID, KeyID: c.KeyID, KeyFile: c.KeyFile, CertFile: c.CertFile, CertPassword: c.CertPassword,
		BundleID: c.BundleID, EndpointProduction: c.EndpointProduction, EndpointDevelopment: c.EndpointDevelopment,
		CAFile: c.CAFile,
	})
}
