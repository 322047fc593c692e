package config

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors"
)

// checker walks a YAML document's node tree against the Go type it decodes
// into and collects, with key path and line, what yaml.v3 would refuse or
// drop: unknown keys, duplicate keys and values of the wrong type. It reads
// positions from the nodes themselves, so no yaml.v3 message is parsed.
type checker struct {
	ps problems
	// lines maps each key path walked to the line of its key (or list item).
	lines map[string]int
	// walked records alias targets already checked against a type, so that
	// a document of aliases of aliases costs one walk per target, not one per
	// use.
	walked map[aliasTarget]bool
}

type aliasTarget struct {
	node *yaml.Node
	typ  reflect.Type
}

func newChecker() *checker {
	return &checker{lines: map[string]int{}, walked: map[aliasTarget]bool{}}
}

var (
	unmarshalerType     = reflect.TypeFor[yaml.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// value checks n, found at path, against t.
func (ck *checker) value(path string, n *yaml.Node, t reflect.Type) {
	line := n.Line // an alias is reported where it is used
	n, ok := ck.resolve(n, t)
	if !ok || n.ShortTag() == "!!null" {
		return // yaml.v3 leaves the field as it is (a pointer, list or map nil)
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == providersType {
		ck.providers(path, line, n)
		return
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType) {
		ck.leaf(path, line, n, t)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			ck.wrongType(path, line, n, t)
			return
		}
		ck.mapping(path, n, t, nil)
	case reflect.Map:
		switch {
		case t.Key().Kind() != reflect.String:
			ck.leaf(path, line, n, t) // no such map in Config: let yaml.v3 judge it whole
		case n.Kind != yaml.MappingNode:
			ck.wrongType(path, line, n, t)
		default:
			ck.mapping(path, n, t, nil)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			ck.wrongType(path, line, n, t)
			return
		}
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			ck.line(p, item.Line)
			ck.value(p, item, t.Elem())
		}
	default:
		ck.leaf(path, line, n, t)
	}
}

// resolve follows an alias to its target. ok is false when there is nothing to
// check: a dangling alias, or a target already checked against t.
func (ck *checker) resolve(n *yaml.Node, t reflect.Type) (*yaml.Node, bool) {
	if n.Kind != yaml.AliasNode {
		return n, true
	}
	for n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return nil, false
		}
		n = n.Alias
	}
	at := aliasTarget{n, t}
	if ck.walked[at] {
		return nil, false
	}
	ck.walked[at] = true
	return n, true
}

// leaf checks a value yaml.v3 decodes in one piece (a scalar, or a type with
// its own UnmarshalYAML) by decoding it into a throwaway value of type t:
// yaml.v3 itself decides what fits.
func (ck *checker) leaf(path string, line int, n *yaml.Node, t reflect.Type) {
	err := decodeNode(n, reflect.New(t).Interface())
	var te *yaml.TypeError
	if errors.As(err, &te) {
		ck.wrongType(path, line, n, t)
	}
	// Any other error is the document's; decoding the whole file reports it.
}

var providersType = reflect.TypeFor[Providers]()

// providers checks an app's providers mapping: each key must name a vendor of
// the registry, and its block is checked against that vendor's config type.
func (ck *checker) providers(path string, line int, n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		ck.wrongType(path, line, n, providersType)
		return
	}
	if ck.duplicates(path, n) {
		return
	}
	names := vendors.Providers()
	want := make([]string, len(names))
	for i, p := range names {
		want[i] = string(p)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name, ok := ck.keyName(path, k)
		if !ok {
			continue
		}
		p := joinKey(path, name)
		ck.line(p, k.Line)
		vendor, ok := vendors.Lookup(push.Provider(name))
		if !ok {
			msg := "unknown provider; want one of " + strings.Join(want, ", ")
			if s := closest(name, want); s != "" {
				msg += "; did you mean " + s + "?"
			}
			ck.ps = append(ck.ps, Problem{Key: p, Line: k.Line, Message: msg})
			continue
		}
		ck.value(p, v, reflect.TypeOf(vendor.NewConfig()))
	}
}

// mapping checks the keys and values of mapping n, found at path, against the
// struct or map type t. merged is nil for a mapping written in place; for one
// merged in with "<<" it holds the keys already set, which win over its own.
func (ck *checker) mapping(path string, n *yaml.Node, t reflect.Type, merged map[string]bool) {
	if ck.duplicates(path, n) {
		return // yaml.v3 decodes nothing of a mapping with a key twice
	}
	var fields map[string]reflect.Type
	var names []string
	if t.Kind() == reflect.Struct {
		fields = map[string]reflect.Type{}
		for _, f := range yamlFields(t) {
			fields[f.name] = f.typ
			names = append(names, f.name)
		}
	}
	var merge *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if isMergeKey(k) {
			merge = v
			continue
		}
		name, ok := ck.keyName(path, k)
		if !ok {
			continue
		}
		if merged != nil {
			if merged[name] {
				continue
			}
			merged[name] = true
		}
		p := joinKey(path, name)
		ck.line(p, k.Line)
		if t.Kind() == reflect.Map {
			ck.value(p, v, t.Elem())
			continue
		}
		ft, known := fields[name]
		if !known {
			msg := "unknown key"
			if s := closest(name, names); s != "" {
				msg += "; did you mean " + s + "?"
			}
			ck.ps = append(ck.ps, Problem{Key: p, Line: k.Line, Message: msg})
			continue
		}
		ck.value(p, v, ft)
	}
	if merge == nil {
		return
	}
	if merged == nil {
		merged = map[string]bool{}
		for i := 0; i < len(n.Content); i += 2 {
			if name, ok := scalarKey(n.Content[i]); ok {
				merged[name] = true
			}
		}
	}
	ck.merge(path, merge, t, merged)
}

// merge checks the mapping (or list of mappings) a "<<" key merges in. A value
// that is neither is left to the decoder, which refuses the document.
func (ck *checker) merge(path string, m *yaml.Node, t reflect.Type, merged map[string]bool) {
	items := []*yaml.Node{m}
	if m.Kind == yaml.SequenceNode {
		items = m.Content
	}
	for _, item := range items {
		item, ok := ck.resolve(item, t)
		if ok && item.Kind == yaml.MappingNode {
			ck.mapping(path, item, t, merged)
		}
	}
}

// duplicates reports every key of n that an earlier key of n repeats, as
// yaml.v3 compares them (same kind, same text), and whether there was one.
func (ck *checker) duplicates(path string, n *yaml.Node) bool {
	found := false
	for j := 2; j < len(n.Content); j += 2 {
		kj := n.Content[j]
		for i := 0; i < j; i += 2 {
			ki := n.Content[i]
			if ki.Kind == kj.Kind && ki.Value == kj.Value {
				ck.ps = append(ck.ps, Problem{Key: joinKey(path, kj.Value), Line: kj.Line,
					Message: fmt.Sprintf("duplicate key (first at line %d)", ki.Line)})
				found = true
				break
			}
		}
	}
	if found {
		for i := 0; i < len(n.Content); i += 2 {
			if name, ok := scalarKey(n.Content[i]); ok {
				ck.line(joinKey(path, name), n.Content[i].Line)
			}
		}
	}
	return found
}

// keyName is the name yaml.v3 decodes key k to. ok is false for a key it
// skips (null) or refuses (a list or mapping used as a key, reported here).
func (ck *checker) keyName(path string, k *yaml.Node) (string, bool) {
	if name, ok := scalarKey(k); ok {
		return name, true
	}
	r := k
	for r.Kind == yaml.AliasNode && r.Alias != nil {
		r = r.Alias
	}
	if r.Kind == yaml.MappingNode || r.Kind == yaml.SequenceNode {
		ck.wrongType(path, k.Line, r, reflect.TypeFor[string]())
	}
	return "", false
}

// scalarKey is the text of a scalar key (through an alias); ok is false for a
// null key or one that is not a scalar.
func scalarKey(k *yaml.Node) (string, bool) {
	for k.Kind == yaml.AliasNode && k.Alias != nil {
		k = k.Alias
	}
	if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!null" {
		return "", false
	}
	return k.Value, true
}

// isMergeKey reports whether k is YAML's merge key "<<", as yaml.v3 recognises it.
func isMergeKey(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && (k.Tag == "" || k.Tag == "!" || k.ShortTag() == "!!merge")
}

// wrongType reports that n, at path, is not what a field of type t takes.
func (ck *checker) wrongType(path string, line int, n *yaml.Node, t reflect.Type) {
	ck.ps = append(ck.ps, Problem{Key: path, Line: line,
		Message: fmt.Sprintf("want %s, got %s", describeType(t.String()), describeNode(n))})
}

// line records where path is written, unless it already is.
func (ck *checker) line(path string, line int) {
	if _, ok := ck.lines[path]; !ok {
		ck.lines[path] = line
	}
}

// joinKey appends key to path.
func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// describeNode words what a node holds for a user. A long scalar is cut: it
// may be a secret in the wrong place, and the line points at it anyway.
func describeNode(n *yaml.Node) string {
	switch {
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.ShortTag() == "!!null":
		return "nothing"
	}
	v := n.Value
	if len(v) > 10 {
		cut := 7
		for cut > 0 && !utf8.RuneStart(v[cut]) {
			cut--
		}
		v = v[:cut] + "..."
	}
	return v
}

// describeType words a Go type of this package for a user.
func describeType(t string) string {
	switch t {
	case "string":
		return "a string"
	case "int", "int64", "int32", "uint", "uint64":
		return "an integer"
	case "float64", "float32":
		return "a number"
	case "bool":
		return "true or false"
	case "config.Duration":
		return `a duration such as "5s", "2m" or "168h"`
	case "[]string":
		return "a list of strings"
	}
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["), strings.HasPrefix(t, "config."), strings.HasPrefix(t, "*config."):
		return "a mapping"
	}
	return t
}

// yamlField is one key of a struct type as yaml.v3 decodes it.
type yamlField struct {
	name string
	typ  reflect.Type
}

// yamlFields lists the keys of struct type t in field order, named as yaml.v3
// names them: the yaml tag's name, else the field name in lower case; "-" and
// unexported fields are left out, ",inline" structs flattened.
func yamlFields(t reflect.Type) []yamlField {
	var out []yamlField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() && !f.Anonymous {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, flags, _ := strings.Cut(tag, ",")
		if strings.Contains(","+flags+",", ",inline,") && f.Type.Kind() == reflect.Struct {
			out = append(out, yamlFields(f.Type)...)
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out = append(out, yamlField{name, f.Type})
	}
	return out
}

// yamlKeys lists the YAML keys of struct type t.
func yamlKeys(t reflect.Type) []string {
	var keys []string
	for _, f := range yamlFields(t) {
		keys = append(keys, f.name)
	}
	return keys
}

// decodeNode is n.Decode(v), with a panic inside the YAML library turned into
// an error: input from a file must never crash the daemon.
func decodeNode(n *yaml.Node, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: cannot parse: %v", r)
		}
	}()
	return n.Decode(v)
}
