// Package benchmarks measures pushd end to end on loopback: the real daemon
// (durable Pebble, default config) and the vendor simulator in process. Each
// figure that has a natural ceiling is paired with a baseline measured in the
// same run, and the ratio is the figure to watch. Run with
//
//	go test ./benchmarks -run '^$' -bench 'Send|APNs|Drain' -benchtime 3000x
//	go test ./benchmarks -run '^$' -bench GroupFanout -benchtime 5x
//
// (each GroupFanout iteration is a whole 10,000-member fan-out).
package benchmarks
