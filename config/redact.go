package config

import (
	"fmt"
	"log/slog"
	"maps"
	"reflect"

	"gopkg.in/yaml.v3"

	"github.com/pushd-im/pushd/push"
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
	for _, pr := range a.Providers.Configured() {
		for _, sec := range a.Providers[pr].Secrets() {
			out = append(out, secretField{"providers." + string(pr) + "." + sec.Key, sec.Value, sec.File})
		}
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
	r.ClientMessageStrangers = clonePtr(a.ClientMessageStrangers)
	if a.Providers != nil {
		r.Providers = make(Providers, len(a.Providers))
		for pr, block := range a.Providers {
			r.Providers[pr] = cloneBlock(block)
		}
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

// cloneBlock copies a vendor's config block (a pointer to a struct), its
// pointer fields included, so that the copy shares nothing with b.
func cloneBlock(b push.VendorConfig) push.VendorConfig {
	src := reflect.ValueOf(b).Elem()
	dst := reflect.New(src.Type())
	dst.Elem().Set(src)
	for i := 0; i < src.NumField(); i++ {
		if f := dst.Elem().Field(i); f.Kind() == reflect.Pointer && !f.IsNil() {
			c := reflect.New(f.Type().Elem())
			c.Elem().Set(f.Elem())
			f.Set(c)
		}
	}
	return dst.Interface().(push.VendorConfig)
}
