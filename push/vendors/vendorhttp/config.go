package vendorhttp

import (
	"net/url"
	"strings"
	"time"

	"github.com/pushd-im/pushd/push"
)

// DefaultTimeout bounds one vendor exchange (a send or a token fetch) when a
// client's Options leave it unset: the one value every client and the daemon use.
const DefaultTimeout = 15 * time.Second

// ConfigCheck reports the problems of a vendor's config block (push.VendorConfig's
// Validate), each with its key below the block. The checks every block shares
// are its methods, so their wording is the same for every vendor.
type ConfigCheck func(key, format string, args ...any)

// Require reports key when v is empty.
func (ck ConfigCheck) Require(key, v string) {
	if v == "" {
		ck(key, "required")
	}
}

// RequireSecret reports key when v is empty: a secret that may come from key_file.
func (ck ConfigCheck) RequireSecret(key, v string) {
	if v == "" {
		ck(key, "required (or %s_file)", key)
	}
}

// RequireTogether reports each missing one of keys that only work together.
func (ck ConfigCheck) RequireTogether(keys, values []string) {
	for i, v := range values {
		if v != "" {
			continue
		}
		var others []string
		for j, k := range keys {
			if j != i {
				others = append(others, k)
			}
		}
		ck(keys[i], "required with %s", strings.Join(others, " and "))
	}
}

// Endpoint reports key when v is not an absolute http or https URL.
func (ck ConfigCheck) Endpoint(key, v string) {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		ck(key, "want an absolute http or https URL, got %q", v)
	}
}

// OAuthBlock is the config a client-credentials vendor's block shares
// (Huawei, Honor). A block embeds it with `yaml:",inline"`, so its keys sit
// in the block itself.
type OAuthBlock struct {
	// ClientID is the OAuth client id. Required.
	ClientID string `yaml:"client_id,omitempty"`
	// ClientSecret is the OAuth client secret. Required (here or in ClientSecretFile).
	ClientSecret string `yaml:"client_secret,omitempty"`
	// ClientSecretFile is a file holding ClientSecret. Default "".
	ClientSecretFile string `yaml:"client_secret_file,omitempty"`
	// Endpoint is the send host. Default: the vendor's.
	Endpoint string `yaml:"endpoint"`
	// AuthEndpoint is the full OAuth token URL. Default: the vendor's.
	AuthEndpoint string `yaml:"auth_endpoint"`
	// Category is the class sent with every push that has none (IM, VOIP, ...). Default "".
	Category string `yaml:"category,omitempty"`
	// CAFile is a PEM bundle to trust instead of the system roots. Default "".
	CAFile string `yaml:"ca_file,omitempty"`
}

// SetEndpoints fills unset endpoints with the vendor's; the send host loses
// trailing slashes, the token URL is taken whole.
func (b *OAuthBlock) SetEndpoints(endpoint, auth string) {
	push.TrimEndpoint(&b.Endpoint, endpoint)
	if b.AuthEndpoint == "" {
		b.AuthEndpoint = auth
	}
}

// Check reports the shared keys' problems.
func (b *OAuthBlock) Check(ck ConfigCheck) {
	ck.Require("client_id", b.ClientID)
	ck.RequireSecret("client_secret", b.ClientSecret)
	ck.Endpoint("endpoint", b.Endpoint)
	ck.Endpoint("auth_endpoint", b.AuthEndpoint)
}

// Secrets is the client secret.
func (b *OAuthBlock) Secrets() []push.Secret {
	return []push.Secret{{Key: "client_secret", Value: &b.ClientSecret, File: b.ClientSecretFile}}
}

// Files are the secret and CA files.
func (b *OAuthBlock) Files() []*string { return []*string{&b.ClientSecretFile, &b.CAFile} }

// Defaults is the configured category.
func (b *OAuthBlock) Defaults() push.Profile { return push.Profile{Category: b.Category} }
