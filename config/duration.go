package config

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration that reads and writes YAML as a Go duration
// string such as "30s", "5m" or "168h". A bare number is rejected: "ack_timeout: 5"
// could mean seconds or nanoseconds, so pushd asks for the unit.
type Duration time.Duration

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String formats d like time.Duration does ("1m30s").
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalYAML writes d as a duration string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalYAML accepts a YAML string that time.ParseDuration understands.
// Anything else is a *yaml.TypeError, so that a decoder reports it with the
// other type errors of the file instead of stopping at it. (Load finds the
// key and line of a bad value from the node tree, not from this text.)
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
		v, err := time.ParseDuration(n.Value)
		if err == nil {
			*d = Duration(v)
			return nil
		}
	}
	return &yaml.TypeError{Errors: []string{typeErrorText(n, "config.Duration")}}
}

// typeErrorText words a type error the way yaml.v3 words its own ("line 3:
// cannot unmarshal !!int `5` into config.Duration"), for code that decodes a
// Config with yaml.v3 directly.
func typeErrorText(n *yaml.Node, into string) string {
	value := ""
	switch n.Kind {
	case yaml.SequenceNode:
		return fmt.Sprintf("line %d: cannot unmarshal !!seq into %s", n.Line, into)
	case yaml.MappingNode:
		return fmt.Sprintf("line %d: cannot unmarshal !!map into %s", n.Line, into)
	}
	value = n.Value
	if len(value) > 10 {
		value = value[:7] + "..."
	}
	return fmt.Sprintf("line %d: cannot unmarshal %s `%s` into %s", n.Line, n.ShortTag(), value, into)
}
