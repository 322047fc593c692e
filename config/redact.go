package config

import (
	"fmt"
	"log/slog"
	"maps"

	"gopkg.in/yaml.v3"
)

// redactedSecret replaces every secret in Redacted's copy. Secrets are hidden
// whole (push.MaskSecret would show 8 bytes of a 16-byte token secret).
const redactedSecret = "<redacted>"

// Redacted returns a deep copy of c with every secret (API keys, client token
// secrets, certificate passwords, vendor secrets) replaced by "<redacted>". A
// secret that is unset stays empty, so the copy still shows which are set.
func (c *Config) Redacted() *Config {
	r := c.clone()
	hide := func(s *string) {
		if *s != "" {
			*s = redactedSecret
		}
	}
	for i := range r.Apps {
		a := &r.Apps[i]
		for j := range a.APIKeys {
			hide(&a.APIKeys[j])
		}
		for _, f := range a.secrets() {
			hide(f.value)
		}
	}
	return r
}

// secretField is one secret of an app besides its API keys: its key inside the
// app, where its value is, and the *_file that may hold it instead.
type secretField struct {
	key   string
	value *string
	file  string
}

// secrets lists the app's secrets, in the order of the keys. Load reads each
// one's *_file and Redacted hides each one, so a secret added here is both.
func (a *App) secrets() []secretField {
	out := []secretField{{"client_token_secret", &a.ClientTokenSecret, a.ClientTokenSecretFile}}
	for i := range a.ClientTokenSecrets {
		ts := &a.ClientTokenSecrets[i]
		out = append(out, secretField{fmt.Sprintf("client_token_secrets[%d].secret", i), &ts.Secret, ts.SecretFile})
	}
	p := &a.Providers
	if x := p.APNs; x != nil {
		out = append(out, secretField{"providers.apns.cert_password", &x.CertPassword, x.CertPasswordFile})
	}
	if x := p.HMS; x != nil {
		out = append(out, secretField{"providers.hms.client_secret", &x.ClientSecret, x.ClientSecretFile})
	}
	if x := p.Xiaomi; x != nil {
		out = append(out, secretField{"providers.xiaomi.app_secret", &x.AppSecret, x.AppSecretFile})
	}
	if x := p.OPPO; x != nil {
		out = append(out, secretField{"providers.oppo.master_secret", &x.MasterSecret, x.MasterSecretFile})
	}
	if x := p.Vivo; x != nil {
		out = append(out, secretField{"providers.vivo.app_secret", &x.AppSecret, x.AppSecretFile})
	}
	return out
}

// String is the redacted configuration as YAML, for logs and "config check" output.
func (c *Config) String() string {
	if c == nil {
		return "<nil>"
	}
	out, err := yaml.Marshal(c.Redacted())
	if err != nil {
		return "config: cannot format: " + err.Error()
	}
	return string(out)
}

// LogValue makes slog print the redacted YAML, never the secrets, whatever the handler.
func (c *Config) LogValue() slog.Value {
	return slog.StringValue(c.String())
}

// clone copies c deeply: nothing in the copy shares memory with c.
func (c *Config) clone() *Config {
	r := *c
	r.Cluster.Join = cloneSlice(c.Cluster.Join)
	if c.Apps != nil {
		r.Apps = make([]App, len(c.Apps))
		for i := range c.Apps {
			r.Apps[i] = c.Apps[i].clone()
		}
	}
	return &r
}

func (a *App) clone() App {
	r := *a
	r.APIKeys = cloneSlice(a.APIKeys)
	r.ClientTokenSecrets = cloneSlice(a.ClientTokenSecrets)
	r.ClientPushConfig, r.ClientCalls = clonePtr(a.ClientPushConfig), clonePtr(a.ClientCalls)
	r.Providers = Providers{
		APNs:   clonePtr(a.Providers.APNs),
		FCM:    clonePtr(a.Providers.FCM),
		HMS:    clonePtr(a.Providers.HMS),
		Xiaomi: clonePtr(a.Providers.Xiaomi),
		OPPO:   clonePtr(a.Providers.OPPO),
		Vivo:   clonePtr(a.Providers.Vivo),
	}
	if v := r.Providers.Vivo; v != nil {
		v.Classification = clonePtr(v.Classification)
	}
	r.RateLimits = maps.Clone(a.RateLimits)
	if a.Resources != nil {
		r.Resources = make(map[string]map[string]Resource, len(a.Resources))
		for id, byProvider := range a.Resources {
			if byProvider == nil {
				r.Resources[id] = nil
				continue
			}
			m := make(map[string]Resource, len(byProvider))
			for p, res := range byProvider {
				res.Classification = clonePtr(res.Classification)
				m[p] = res
			}
			r.Resources[id] = m
		}
	}
	return r
}

func cloneSlice[T any](s []T) []T {
	if s == nil {
		return nil
	}
	return append([]T{}, s...)
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
