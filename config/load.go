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

// parse decodes data, one YAML document, into a Config without defaults.
// Unknown keys, duplicate keys and wrong types are problems naming their key
// path and line, found by walking the document's node tree against the Config
// type (see checker); the Config holds everything else. ok is false when the
// YAML does not parse at all. lines maps each key path in the file to its line.
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
	if root.Kind != yaml.DocumentNode || len(root.Content) != 1 {
		return c, nil, map[string]int{}, true // an empty file
	}
	ck := newChecker()
	ck.value("", root.Content[0], reflect.TypeFor[Config]())

	// The checker has found what is wrong; decoding fills in the rest (yaml.v3
	// leaves out a value of the wrong type and ignores unknown keys).
	err := decodeNode(&root, c)
	var te *yaml.TypeError
	switch {
	case err == nil:
	case errors.As(err, &te):
		if len(ck.ps) == 0 {
			// The checker missed what yaml.v3 refused: better its words
			// without a key than a config with a value silently left out.
			ck.ps = append(ck.ps, Problem{Message: "cannot decode the file: " + strings.Join(te.Errors, "; ")})
		}
	default:
		return c, problems{syntaxProblem(err)}, nil, false
	}
	return c, ck.ps, ck.lines, true
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

// syntaxProblem turns a yaml.v3 syntax error ("yaml: line 3: mapping values
// are not allowed in this context") into a Problem with its line. yaml.v3 gives
// a syntax error's position only in its text, so this one message is parsed.
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

// resolvePaths makes every relative file path of the apps relative to dir, the
// config file's directory, so that a config and its key files move together.
func resolvePaths(c *Config, dir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	abs(&c.TLS.CertFile)
	abs(&c.TLS.KeyFile)
	abs(&c.Cluster.GossipKeyFile)
	abs(&c.Cluster.TLS.CertFile)
	abs(&c.Cluster.TLS.KeyFile)
	abs(&c.Cluster.TLS.CAFile)
	for i := range c.Apps {
		a := &c.Apps[i]
		abs(&a.APIKeysFile)
		abs(&a.ClientTokenSecretFile)
		for j := range a.ClientTokenSecrets {
			abs(&a.ClientTokenSecrets[j].SecretFile)
		}
		for _, block := range a.Providers {
			for _, f := range block.Files() {
				abs(f)
			}
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
