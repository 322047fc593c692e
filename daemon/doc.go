// Package daemon assembles one pushd node from a config: the Pebble store, the
// actor system and its remote, cluster membership, the vendor clients (or the
// built-in vendor simulator), and the HTTP/WebSocket API. cmd/pushd runs it;
// end-to-end tests start it in process.
package daemon
