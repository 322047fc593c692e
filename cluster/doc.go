// Package cluster is pushd's membership and placement: which nodes are alive, and which node owns
// each key (a user, a group, a call).
//
// Membership comes from hashicorp/memberlist: every node gossips a small JSON meta carrying its
// Member (id, protoactor remote address, HTTP API address). Placement is rendezvous (highest random
// weight) hashing over the live members: the owner of a key is the member whose
// mix64(xxhash64(id + "\x00" + key)) is highest. Adding a member moves only the keys the new member
// wins (about 1/n of them); removing one moves only the keys it owned. Every node computes the same
// owner for the same member set, whatever order it learnt the members in.
//
// # Shards
//
// With Raft (Raft, one dragonboat host per node), the replicated state is split into a fixed
// number of shards, each its own Raft group. Shards keeps each shard's replicas on the nodes that
// placement ranks first for it, as nodes join, drain, die and come back: see Shards for the
// rules, the replica ids and how nodes agree at bootstrap. Nodes tell each other their shard state
// in their meta (Member.Formed, Member.Draining) and the few messages shard leaders send (Send).
//
// # Security
//
// A node meant to have peers gossips encrypted and authenticated (Config.GossipKey), carries the
// cluster id in its meta and refuses nodes with another (Config.ClusterID), and places a peer only
// after Config.VerifyPeer passed for it: pushd checks the peer's mutual TLS there (TLS, LoadTLS).
// A lone node (Config.Lone) runs no memberlist and opens no port.
//
// The package imports neither protoactor nor any other pushd package; the actors layer consumes it
// through a small interface of its own.
//
// # Concurrency contract
//
//   - Placement is an immutable value: safe to copy, share and read from any goroutine.
//     Owner and NewPlacement are pure functions.
//   - All methods of *Node are safe for concurrent use. Placement, Owner, Self, IsLocal and Ready
//     are lock-free reads (an atomic pointer to the current Placement).
//   - A Node owns exactly one goroutine besides memberlist's own: a loop that, each time memberlist
//     reports a join, leave or update, rebuilds the Placement, publishes it atomically and notifies
//     subscribers. memberlist's event callbacks never block: they copy the node's meta under a
//     short mutex and signal the loop through a one-slot channel.
//   - Start may be called once. It blocks until the node has joined a peer from Config.Join (retrying
//     with backoff) or ctx is done; a node without Join is a one-node cluster, ready at once.
//   - Shutdown is idempotent and may be called from any goroutine, also while Start is still
//     joining. It stops the loop, leaves the cluster gracefully (peers see it within tens of
//     milliseconds), shuts memberlist down and closes every subscription channel. The last
//     Placement stays readable afterwards.
//   - Subscribe channels hold one Placement: a slow reader skips intermediate placements and always
//     finds the latest one. Placement versions only grow, by one per membership change seen by this
//     node; they are local to the node and not comparable across nodes.
package cluster
