package config

import (
	"errors"
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors"
)

// Providers holds one app's vendor config blocks, by provider name; each
// vendor's block type is its own (push.Vendor.NewConfig). A provider that is
// not in the map is not configured.
type Providers map[push.Provider]push.VendorConfig

// UnmarshalYAML decodes each block into its vendor's type. A provider no
// vendor has is left out; the checker (tree.go) reports it with its line.
func (p *Providers) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: providers must be a mapping", n.Line)}}
	}
	var errs []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		v, ok := vendors.Lookup(push.Provider(n.Content[i].Value))
		if !ok {
			continue
		}
		block := v.NewConfig()
		if err := n.Content[i+1].Decode(block); err != nil {
			var te *yaml.TypeError
			if !errors.As(err, &te) {
				return err
			}
			errs = append(errs, te.Errors...)
		}
		if *p == nil {
			*p = Providers{} // only with a block: "providers: {}" stays nil, as it marshals
		}
		(*p)[v.Provider] = block
	}
	if errs != nil {
		return &yaml.TypeError{Errors: errs}
	}
	return nil
}

// Configured lists the providers that have a block, in the registry's order.
func (p Providers) Configured() []push.Provider {
	var out []push.Provider
	for _, pr := range vendors.Providers() {
		if p[pr] != nil {
			out = append(out, pr)
		}
	}
	return out
}

// ParseProviders reads a providers block ("providers:\n  apns: …", as the
// simulator writes it) with its defaults set.
func ParseProviders(doc string) (Providers, error) {
	var v struct {
		Providers Providers `yaml:"providers"`
	}
	if err := yaml.Unmarshal([]byte(doc), &v); err != nil {
		return nil, err
	}
	for _, block := range v.Providers {
		block.SetDefaults()
	}
	return v.Providers, nil
}
