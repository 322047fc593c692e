// Package benchmarks measures pushd end to end on loopback: the real daemon
// (durable Pebble, default config) and the vendor simulator in process. Each
// figure that has a natural ceiling is paired with a baseline measured in the
// same run, and the ratio is the figure to watch. Run with
//
//	go test ./benchmarks -run '^$' -bench . -benchtime 2s
package benchmarks
