// Package wire holds the protobuf types that pushd stores and sends between
// nodes (generated from wire.proto; regenerate with `go generate ./wire`, which
// needs protoc on PATH and runs the protoc-gen-go pinned in go.mod).
//
// Envelope is the only type that crosses nodes; Wrap and Unwrap put any other
// message of this package into one and take it out again.
package wire

//go:generate protoc --plugin=protoc-gen-go=../scripts/protoc-gen-go --go_out=.. --go_opt=module=github.com/pushd-im/pushd wire.proto
