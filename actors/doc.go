// Package actors is pushd's behaviour: one actor per user (inbox, bindings,
// cursors, live sessions, ack-or-push timers), one per long connection (a
// session), one per (app, provider) vendor connection (rate limit, retries,
// verdicts), and one router per node that activates and passivates user actors
// and refuses keys the node does not own.
//
// Actors run on github.com/asynkron/protoactor-go's actor and remote packages.
// Placement is not protoactor's: a Placement (cluster/ in the daemon) names the
// owner node of each key, and Node.Request re-routes when a router answers
// NotOwner. Everything that crosses nodes is a wire.Envelope.
//
// # Concurrency
//
// A Node is safe for concurrent use. Each actor's state is touched only by its
// own Receive; work that blocks (vendor HTTP calls, fsyncs) runs in goroutines
// owned by the actor or in the storage committer and reports back as messages.
package actors
