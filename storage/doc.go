// Package storage is pushd's durable state in Pebble: bindings, streams (the
// offline messages), per-device ack cursors, the idempotency index and the push
// outbox. It sits at the bottom of the tree and imports no other pushd package
// but wire (the stored protobuf types).
//
// # Key layout
//
// Every key a user owns sits under one prefix, so that a user's data can be
// moved or replicated as a unit. app, user, device and stream names never
// contain '/', so '/' separates the parts unambiguously.
//
//	u/<app>/<user>/b/<push_id>            wire.Binding
//	u/<app>/<user>/v/<push_id>            wire.VerdictRecord: the binding's last vendor verdict
//	u/<app>/<user>/s/<stream>/<seq:be64>  wire.Message ("inbox", "group:<id>")
//	u/<app>/<user>/c/<device>/<stream>    ack cursor: uvarint seq, everything <= seq received
//	u/<app>/<user>/i/<from>/<client_msg_id>  idempotency: uvarint created_ms + wire.IdempotencyRecord
//	u/<app>/<user>/g/<group>              uvarint: the group seq the user joined at
//	u/<app>/<user>/r/<call_id>            uvarint: the call rings for the user until then (unix ms)
//	g/<app>/<group>/r                     wire.GroupRecord
//	g/<app>/<group>/m/<user>              (empty): a member
//	g/<app>/<group>/s/<seq:be64>          wire.Message: the group stream, stored once for all members
//	g/<app>/<group>/i/<from>/<client_msg_id>  idempotency of group sends, as for users
//	g/<app>/<group>/d/<seq:be64><first>   uvarint created_ms: this node wrote its pushes of the
//	                                      fan-out chunk of message seq that starts at member first
//	f/<app>/<group>/<seq:be64>            wire.Fanout: a group message's fan-out in progress
//	c/<app>/<call_id>                     wire.CallRecord
//	p/<push_id>                           "<app>/<user>": who holds a binding (push ids are
//	                                      derived from app, provider and token, so this is the token index too);
//	                                      kept on the node that owns the push id's token actor t/<app>/<push_id>
//	o/<id:be64>                           wire.PushJob: the push outbox of this node
//	k/<id:be64>                           wire.PushChunk: outbox pushes of a fan-out chunk, in one record
//	                                      (each binding by its key only: user and push id)
//	q/<app>/<provider>/<day>              uvarint: pushes counted against the daily quota that vendor day
//
// # Writes
//
// Writers build a Batch and hand it to Commit or CommitAsync. One committer
// goroutine merges every batch waiting at that moment into one Pebble batch and
// commits it with one fsync when any of them asked for durability (group
// commit), then answers each in order. Batches commit in the order they were
// handed over.
//
// # Concurrency
//
// A Store is safe for concurrent use. Reads see committed data only.
package storage
