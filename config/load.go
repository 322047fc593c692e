package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxSecretFileBytes bounds what Load reads from a *_file secret.
const maxSecretFileBytes = 1 << 20

// Load builds the configuration the daemon runs with.
//
// With path "", it is the built-in single-node config: Default with the
// simulator enabled, then the PUSHD_* variables of env. Otherwise it reads the
// YAML file at path strictly (an unknown key or a wrong type is a problem),
// fills the defaults, applies env, resolves relative file paths against the
// file's directory, reads every *_file secret (trimmed of surrounding
// whitespace) and validates the result.
//
// env is in os.Environ form. An empty value counts as unset; a PUSHD_* name
// Load does not know is a problem (PUSHD_CONFIG, the config path, is allowed).
//
// Every problem found is reported together in one *Error wrapping ErrInvalid.
// A file that cannot be read is an error of its own (errors.Is fs.ErrNotExist works).
func Load(path string, env []string) (*Config, error) {
	if path == "" {
		c := Default()
		c.Simulator.Enabled = true
		var ps problems
		fromEnv := applyEnv(c, env, &ps)
		c.EnsureDefaults()
		ps = append(ps, nameEnv(c.validate(), fromEnv)...)
		if len(ps) > 0 {
			return nil, &Error{Problems: ps}
		}
		return c, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return load(data, path, env, readSecretFile)
}

// load is Load after the file is read; read opens secret files (tests and the
// fuzz target pass their own).
func load(data []byte, file string, env []string, read func(string) ([]byte, error)) (*Config, error) {
	c, ps, lines, ok := parse(data)
	if !ok {
		return nil, &Error{File: file, Problems: ps}
	}
	fromEnv := applyEnv(c, env, &ps)
	c.EnsureDefaults()
	resolvePaths(c, filepath.Dir(file))
	readSecrets(c, read, &ps)
	earlier := ps
	for _, p := range nameEnv(c.validate(), fromEnv) {
		if !coveredBy(p.Key, earlier) { // else the key's type error or secret file problem already says what is wrong
			ps = append(ps, p)
		}
	}
	for i := range ps {
		if ps[i].Line == 0 {
			ps[i].Line = lineOf(ps[i].Key, lines)
		}
	}
	if len(ps) > 0 {
		return nil, &Error{File: file, Problems: ps}
	}
	return c, nil
}

// nameEnv adds the variable that set a key to the problems Validate found with it.
func nameEnv(ps problems, fromEnv map[string]string) problems {
	for i := range ps {
		if name, ok := fromEnv[ps[i].Key]; ok {
			ps[i].Message += " (set by " + name + ")"
		}
	}
	return ps
}

// coveredBy reports whether an earlier problem is about key or a key around or inside it.
func coveredBy(key string, earlier problems) bool {
	for _, e := range earlier {
		if e.Key == "" {
			continue
		}
		if within(key, e.Key) || within(e.Key, key) || e.Key == key+"_file" {
			return true
		}
	}
	return false
}

// within reports whether key is outer or a key inside it.
func within(key, outer string) bool {
	if !strings.HasPrefix(key, outer) {
		return false
	}
	rest := key[len(outer):]
	return rest == "" || rest[0] == '.' || rest[0] == '['
}

// lineOf is the line of key in the file, or of the nearest key around it that
// is there (a missing key is reported at its parent).
func lineOf(key string, lines map[string]int) int {
	for key != "" {
		if l, ok := lines[key]; ok {
			return l
		}
		i := strings.LastIndexAny(key, ".[")
		if i < 0 {
			return 0
		}
		key = key[:i]
	}
	return 0
}

// parse decodes data, one YAML document, strictly into a Config without
// defaults. Unknown keys, duplicate keys and wrong types are problems naming
// their key; the Config holds everything else. ok is false when the YAML does
// not parse at all. lines maps each key path in the file to its line.
func parse(data []byte) (c *Config, ps problems, lines map[string]int, ok bool) {
	c = &Config{}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := safeDecode(dec, &root); err != nil && !errors.Is(err, io.EOF) {
		return c, problems{syntaxProblem(err)}, nil, false
	}
	if err := safeDecode(dec, new(yaml.Node)); !errors.Is(err, io.EOF) {
		p := Problem{Message: "the file holds more than one YAML document; pushd reads exactly one"}
		if err != nil {
			p = syntaxProblem(err)
		}
		return c, problems{p}, nil, false
	}
	idx := newNodeIndex(&root)

	dec = yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := safeDecode(dec, c)
	var te *yaml.TypeError
	switch {
	case err == nil, errors.Is(err, io.EOF):
	case errors.As(err, &te):
		for _, msg := range te.Errors {
			ps = append(ps, idx.problem(msg))
		}
	default:
		ps = append(ps, syntaxProblem(err))
		return c, ps, nil, false
	}
	return c, ps, idx.lines, true
}

// safeDecode is dec.Decode, with a panic inside the YAML library turned into an
// error: input from a file must never crash the daemon.
func safeDecode(dec *yaml.Decoder, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: cannot parse: %v", r)
		}
	}()
	return dec.Decode(v)
}

// syntaxProblem turns a yaml.v3 error ("yaml: line 3: mapping values are not
// allowed in this context") into a Problem with its line.
func syntaxProblem(err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line, rest := cutLine(msg)
	return Problem{Line: line, Message: "not valid YAML: " + rest}
}

// cutLine splits "line N: rest" into N and rest; N is 0 when msg has no line.
func cutLine(msg string) (int, string) {
	after, ok := strings.CutPrefix(msg, "line ")
	if !ok {
		return 0, msg
	}
	num, rest, ok := strings.Cut(after, ": ")
	n, err := strconv.Atoi(num)
	if !ok || err != nil {
		return 0, msg
	}
	return n, rest
}

// nodeRef is one key (or list item) of the file with its path.
type nodeRef struct {
	path  string
	key   *yaml.Node // nil for list items and the document root
	value *yaml.Node
}

// nodeIndex finds the key a yaml.v3 error message is about from its line.
type nodeIndex struct {
	refs    []nodeRef
	byKey   map[int][]int // key line → refs
	byValue map[int][]int // value line → refs
	used    map[int]bool  // refs an earlier type error was matched to
	lines   map[string]int
}

func newNodeIndex(root *yaml.Node) *nodeIndex {
	x := &nodeIndex{
		byKey:   map[int][]int{},
		byValue: map[int][]int{},
		used:    map[int]bool{},
		lines:   map[string]int{},
	}
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		x.walk("", nil, root.Content[0])
	}
	return x
}

func (x *nodeIndex) walk(path string, key, value *yaml.Node) {
	i := len(x.refs)
	x.refs = append(x.refs, nodeRef{path: path, key: key, value: value})
	if key != nil {
		x.byKey[key.Line] = append(x.byKey[key.Line], i)
		if _, seen := x.lines[path]; !seen {
			x.lines[path] = key.Line
		}
	} else if path != "" {
		if _, seen := x.lines[path]; !seen {
			x.lines[path] = value.Line
		}
	}
	x.byValue[value.Line] = append(x.byValue[value.Line], i)
	switch value.Kind {
	case yaml.MappingNode:
		for j := 0; j+1 < len(value.Content); j += 2 {
			k := value.Content[j]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			x.walk(p, k, value.Content[j+1])
		}
	case yaml.SequenceNode:
		for j, item := range value.Content {
			x.walk(fmt.Sprintf("%s[%d]", path, j), nil, item)
		}
	}
}

// problem turns one yaml.v3 type error into a Problem naming its key.
func (x *nodeIndex) problem(msg string) Problem {
	line, rest := cutLine(msg)
	p := Problem{Line: line, Message: rest}
	if name, typ, ok := parseNotFound(rest); ok {
		if r := x.keyAt(line, name); r != nil {
			p.Key = r.path
			p.Message = "unknown key"
			if s := closest(name, yamlKeysOf(typ)); s != "" {
				p.Message += "; did you mean " + s + "?"
			}
		}
		return p
	}
	if name, first, ok := parseDuplicate(rest); ok {
		if r := x.keyAt(line, name); r != nil {
			p.Key = r.path
			p.Message = fmt.Sprintf("duplicate key (first at line %d)", first)
		}
		return p
	}
	if tag, value, into, ok := parseCannotUnmarshal(rest); ok {
		got := value
		switch tag {
		case "!!seq":
			got = "a list"
		case "!!map":
			got = "a mapping"
		case "!!null":
			got = "nothing"
		}
		p.Message = fmt.Sprintf("want %s, got %s", describeType(into), got)
		if r := x.valueAt(line, tag, value); r != nil {
			p.Key = r.path
		}
	}
	return p
}

// keyAt is the key named name on line.
func (x *nodeIndex) keyAt(line int, name string) *nodeRef {
	for _, i := range x.byKey[line] {
		if x.refs[i].key.Value == name && !x.used[i] {
			x.used[i] = true
			return &x.refs[i]
		}
	}
	return nil
}

// valueAt is the first value on line, not yet matched to an error, that an
// error message's tag and (possibly shortened) value describe.
func (x *nodeIndex) valueAt(line int, tag, value string) *nodeRef {
	for _, i := range x.byValue[line] {
		n := x.refs[i].value
		var match bool
		switch tag {
		case "!!seq":
			match = n.Kind == yaml.SequenceNode
		case "!!map":
			match = n.Kind == yaml.MappingNode
		default:
			match = n.Kind == yaml.ScalarNode || n.Kind == yaml.AliasNode
			if short, ok := strings.CutSuffix(value, "..."); ok && len(value) == 10 {
				match = match && strings.HasPrefix(n.Value, short)
			} else {
				match = match && n.Value == value
			}
		}
		if match && !x.used[i] {
			x.used[i] = true
			return &x.refs[i]
		}
	}
	return nil
}

// parseNotFound parses "field NAME not found in type config.T".
func parseNotFound(msg string) (name, typ string, ok bool) {
	rest, ok := strings.CutPrefix(msg, "field ")
	if !ok {
		return "", "", false
	}
	i := strings.LastIndex(rest, " not found in type ")
	if i < 0 {
		return "", "", false
	}
	return rest[:i], rest[i+len(" not found in type "):], true
}

// parseDuplicate parses `mapping key "NAME" already defined at line N`.
func parseDuplicate(msg string) (name string, first int, ok bool) {
	rest, ok := strings.CutPrefix(msg, "mapping key ")
	if !ok {
		return "", 0, false
	}
	i := strings.LastIndex(rest, " already defined at line ")
	if i < 0 {
		return "", 0, false
	}
	name, err := strconv.Unquote(rest[:i])
	if err != nil {
		return "", 0, false
	}
	first, err = strconv.Atoi(rest[i+len(" already defined at line "):])
	return name, first, err == nil
}

// parseCannotUnmarshal parses "cannot unmarshal !!TAG `VALUE` into TYPE" (the
// value is absent for lists and mappings).
func parseCannotUnmarshal(msg string) (tag, value, into string, ok bool) {
	rest, ok := strings.CutPrefix(msg, "cannot unmarshal ")
	if !ok {
		return "", "", "", false
	}
	i := strings.LastIndex(rest, " into ")
	if i < 0 {
		return "", "", "", false
	}
	rest, into = rest[:i], rest[i+len(" into "):]
	tag, value, _ = strings.Cut(rest, " ")
	value = strings.TrimSuffix(strings.TrimPrefix(value, "`"), "`")
	return tag, value, into, true
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

// yamlKeysOf lists the YAML keys of one of this package's struct types, named as reflect names it.
func yamlKeysOf(typeName string) []string {
	for _, t := range []reflect.Type{
		reflect.TypeFor[Config](), reflect.TypeFor[Cluster](), reflect.TypeFor[ClusterTLS](), reflect.TypeFor[Simulator](),
		reflect.TypeFor[App](), reflect.TypeFor[Providers](), reflect.TypeFor[APNs](),
		reflect.TypeFor[FCM](), reflect.TypeFor[HMS](), reflect.TypeFor[Xiaomi](),
		reflect.TypeFor[OPPO](), reflect.TypeFor[Vivo](), reflect.TypeFor[RateLimit](),
		reflect.TypeFor[Resource](),
	} {
		if t.String() != typeName {
			continue
		}
		var keys []string
		for i := 0; i < t.NumField(); i++ {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
			keys = append(keys, name)
		}
		return keys
	}
	return nil
}

// resolvePaths makes every relative file path of the apps relative to dir, the
// config file's directory, so that a config and its key files move together.
func resolvePaths(c *Config, dir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	abs(&c.Cluster.GossipKeyFile)
	abs(&c.Cluster.TLS.CertFile)
	abs(&c.Cluster.TLS.KeyFile)
	abs(&c.Cluster.TLS.CAFile)
	for i := range c.Apps {
		a := &c.Apps[i]
		abs(&a.APIKeysFile)
		abs(&a.ClientTokenSecretFile)
		pr := &a.Providers
		if p := pr.APNs; p != nil {
			abs(&p.KeyFile)
			abs(&p.CertFile)
			abs(&p.CertPasswordFile)
			abs(&p.CAFile)
		}
		if p := pr.FCM; p != nil {
			abs(&p.ServiceAccountFile)
			abs(&p.CAFile)
		}
		if p := pr.HMS; p != nil {
			abs(&p.ClientSecretFile)
			abs(&p.CAFile)
		}
		if p := pr.Xiaomi; p != nil {
			abs(&p.AppSecretFile)
			abs(&p.CAFile)
		}
		if p := pr.OPPO; p != nil {
			abs(&p.MasterSecretFile)
			abs(&p.CAFile)
		}
		if p := pr.Vivo; p != nil {
			abs(&p.AppSecretFile)
			abs(&p.CAFile)
		}
	}
}

// readSecrets reads every *_file secret into its field.
func readSecrets(c *Config, read func(string) ([]byte, error), ps *problems) {
	for i := range c.Apps {
		a := &c.Apps[i]
		p := fmt.Sprintf("apps[%d]", i)
		if a.APIKeysFile != "" {
			key := p + ".api_keys_file"
			if data, err := read(a.APIKeysFile); err != nil {
				ps.add(key, "app %q: %v", a.ID, err)
			} else {
				n := 0
				for _, line := range strings.Split(string(data), "\n") {
					line = strings.TrimSpace(line)
					if line == "" || strings.HasPrefix(line, "#") {
						continue
					}
					a.APIKeys = append(a.APIKeys, line)
					n++
				}
				if n == 0 {
					ps.add(key, "app %q: %s holds no API key", a.ID, a.APIKeysFile)
				}
			}
		}
		secret := func(key string, value *string, file string) {
			if file == "" {
				return
			}
			if *value != "" {
				leaf := key[strings.LastIndexByte(key, '.')+1:]
				ps.add(p+"."+key+"_file", "app %q: set %s or %s_file, not both", a.ID, leaf, leaf)
				return
			}
			data, err := read(file)
			if err != nil {
				ps.add(p+"."+key+"_file", "app %q: %v", a.ID, err)
				return
			}
			*value = strings.TrimSpace(string(data))
			if *value == "" {
				ps.add(p+"."+key+"_file", "app %q: %s is empty", a.ID, file)
			}
		}
		for _, f := range a.secrets() {
			secret(f.key, f.value, f.file)
		}
	}
}

// readSecretFile reads a secret file of at most maxSecretFileBytes.
func readSecretFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSecretFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxSecretFileBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes; is it the right file?", path, maxSecretFileBytes)
	}
	return data, nil
}
