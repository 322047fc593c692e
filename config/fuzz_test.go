package config

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to Load's parser and checks that it never
// panics, that every failure is an *Error wrapping ErrInvalid with a message,
// and that every success validates and prints no secret.
func FuzzLoad(f *testing.F) {
	example, err := os.ReadFile("example.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		string(example), fullFile, minimalApp, "", "~", "[]", "a: b: c", "ack_timeout: 5",
		"apps: [{id: x, api_keys: [k], providers: {vivo: {app_id: 1e99}}}]",
		"apps:\n  - &a {id: x}\n  - *a\n",
		"listen: !!binary aGVsbG8=\n",
		"{listen: a, listen: b}",
		"apps: [{id: x, client_token_secret_file: s, api_keys_file: k, providers: {hms: {client_secret_file: h}}}]",
		"resources: {a: {b: {classification: -1}}}",
		"---\n---\n",
	} {
		f.Add([]byte(seed))
	}
	const fileSecret = "FUZZSECRET-from-a-file-0123456789"
	read := func(path string) ([]byte, error) {
		if strings.Contains(path, "missing") {
			return nil, errors.New("no such file")
		}
		return []byte(fileSecret + "\n"), nil
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := load(data, "fuzz/pushd.yaml", []string{"PUSHD_LOG_LEVEL=debug"}, read)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrInvalid) || len(e.Problems) == 0 {
				t.Fatalf("error is not an *Error with problems: %#v", err)
			}
			for _, p := range e.Problems {
				if p.Message == "" {
					t.Fatalf("problem without a message: %#v", p)
				}
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Load succeeded but Validate fails: %v", err)
		}
		if s := c.String(); strings.Contains(s, fileSecret) {
			t.Fatalf("String shows a secret:\n%s", s)
		}
	})
}
