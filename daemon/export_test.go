package daemon

import "github.com/pushd-im/pushd/actors"

// NodeForTest is the daemon's actor node, for tests that ask its actors directly.
func (d *Daemon) NodeForTest() *actors.Node { return d.node }
