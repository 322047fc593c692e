// Package config is pushd's configuration: the YAML file, its defaults, the
// PUSHD_* environment overrides, the secrets read from *_file paths, and the
// checks that reject a bad configuration at start with every problem listed.
//
// Load is the one entry point for the daemon; Default, EnsureDefaults and
// Validate are there for code that builds a Config by hand (tests, the demo
// app). A Config is plain data: once loaded it is read-only and safe for
// concurrent reads; nothing in this package keeps state between calls.
package config
