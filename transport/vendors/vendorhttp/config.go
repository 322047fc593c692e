package vendorhttp

import (
	"net/url"
	"strings"
	"time"
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
