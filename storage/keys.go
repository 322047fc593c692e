package storage

import (
	"encoding/binary"
	"strings"

	"github.com/cespare/xxhash/v2"
)

// NumShards is how many shards the stored state is split into. A key's shard is part of the key,
// so the number is fixed: changing it would mean moving every key.
const NumShards = 64

// ShardOf is the shard, 1 to NumShards, of everything an owner keeps. An owner is named by its
// actor's routing key (UserKey, GroupKey, CallKey, TokenKey), so that a shard's data and the
// actors that write it can be placed together.
func ShardOf(owner string) uint64 { return 1 + xxhash.Sum64String(owner)%NumShards }

// UserKey is the owner key (and the actor's routing key) of a user: "u/<app>/<user>".
func UserKey(app, user string) string { return "u/" + app + "/" + user }

// GroupKey is the owner key of a group: "g/<app>/<group>".
func GroupKey(app, group string) string { return "g/" + app + "/" + group }

// CallKey is the owner key of a call: "c/<app>/<call_id>".
func CallKey(app, callID string) string { return "c/" + app + "/" + callID }

// TokenKey is the owner key of a push id's token actor, which keeps the push id index entry:
// "t/<app>/<push_id>".
func TokenKey(app, pushID string) string { return "t/" + app + "/" + pushID }

// ownerKey is the owner's key under its shard: ShardPrefix(ShardOf(owner)) + owner.
func ownerKey(owner string) []byte {
	return append(ShardPrefix(ShardOf(owner)), owner...)
}

// userPrefix is "<shard>u/<app>/<user>/": the prefix of every key the user owns.
func userPrefix(app, user string) []byte {
	return append(ownerKey(UserKey(app, user)), '/')
}

func bindingKey(app, user, pushID string) []byte {
	return append(bindingsPrefix(app, user), pushID...)
}

// bindingsPrefix is the prefix of every binding key of the user.
func bindingsPrefix(app, user string) []byte {
	return append(userPrefix(app, user), 'b', '/')
}

func streamPrefix(app, user, stream string) []byte {
	return append(userPrefix(app, user), "s/"+stream+"/"...)
}

func messageKey(app, user, stream string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(streamPrefix(app, user, stream), seq)
}

func cursorPrefix(app, user, device string) []byte {
	return append(userPrefix(app, user), "c/"+device+"/"...)
}

func cursorKey(app, user, device, stream string) []byte {
	return append(cursorPrefix(app, user, device), stream...)
}

func idempotencyKey(app, user, from, clientMsgID string) []byte {
	return append(userPrefix(app, user), "i/"+from+"/"+clientMsgID...)
}

// pushIndexKey is "<token shard>p/<push_id>".
func pushIndexKey(app, pushID string) []byte {
	return append(ShardPrefix(ShardOf(TokenKey(app, pushID))), "p/"+pushID...)
}

// Families of keys that are not under an owner's prefix but under their shard's: scans of
// them go shard by shard.
const (
	outboxFamily = "o/"
	chunkFamily  = "k/"
	fanoutFamily = "f/"
	callFamily   = "c/"
	// memberTellFamily holds group membership changes a member's side has not acknowledged.
	memberTellFamily = "n/"
	// callEventFamily holds call events stored with the call's state and not yet in their
	// receivers' inboxes.
	callEventFamily = "e/"
	// liveCallFamily indexes the calls still ringing by deadline, so that a start reads only them.
	liveCallFamily = "l/"
)

// outboxKey is "<user's shard>o/<id:be64>": a job sits in the shard of the user it pushes to.
func outboxKey(app, user string, id uint64) []byte {
	p := append(ShardPrefix(ShardOf(UserKey(app, user))), outboxFamily...)
	return binary.BigEndian.AppendUint64(p, id)
}

// chunkKey is "<shard>k/<id:be64>": a fan-out chunk holds the pushes to members of one shard, and
// sits in it, so that the shard's writer writes it with the members' bindings in view.
func chunkKey(shard, id uint64) []byte {
	return binary.BigEndian.AppendUint64(append(ShardPrefix(shard), chunkFamily...), id)
}

// fanoutMarkKey marks that the writer of shard wrote its members' pushes of one chunk of a group
// message's fan-out: the chunk is named by the message's seq and its first member. It has the
// shape of a group key ("g/<app>/<group>/d/...", which Sweep ages out) but sits in the members'
// shard, written in the same batch as their pushes.
func fanoutMarkKey(shard uint64, app, group string, seq uint64, first string) []byte {
	k := append(append(ShardPrefix(shard), GroupKey(app, group)...), "/d/"...)
	return append(binary.BigEndian.AppendUint64(k, seq), first...)
}

// prefixEnd is the first key after every key that starts with p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

// familyPrefix is the prefix of one key family in one shard.
func familyPrefix(shard uint64, family string) []byte {
	return append(ShardPrefix(shard), family...)
}

// splitOwner parses the "<app>/<user>" value of a push index key.
func splitOwner(v []byte) (app, user string, ok bool) { return cutSlash(string(v)) }

// cutSlash splits s at its first '/' into two non-empty parts.
func cutSlash(s string) (before, after string, ok bool) {
	before, after, ok = strings.Cut(s, "/")
	return before, after, ok && before != "" && after != ""
}

// quotaKey counts the pushes of one shard's outbox that an (app, provider) made on one vendor
// day: "<shard>q/<app>/<provider>/<day>".
func quotaKey(shard uint64, app, provider, day string) []byte {
	return append(ShardPrefix(shard), "q/"+app+"/"+provider+"/"+day...)
}

// groupPrefix is "<shard>g/<app>/<group>/": every key of a group.
func groupPrefix(app, group string) []byte { return append(ownerKey(GroupKey(app, group)), '/') }

func groupRecordKey(app, group string) []byte { return append(groupPrefix(app, group), 'r') }

func memberKey(app, group, user string) []byte {
	return append(groupPrefix(app, group), "m/"+user...)
}

func groupStreamPrefix(app, group string) []byte { return append(groupPrefix(app, group), "s/"...) }

func groupMessageKey(app, group string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(groupStreamPrefix(app, group), seq)
}

func userGroupKey(app, user, group string) []byte {
	return append(userPrefix(app, user), "g/"+group...)
}

func ringingKey(app, user, callID string) []byte {
	return append(userPrefix(app, user), "r/"+callID...)
}

// fanoutKey is "<group's shard>f/<app>/<group>/<seq:be64>".
func fanoutKey(app, group string, seq uint64) []byte {
	p := append(ShardPrefix(ShardOf(GroupKey(app, group))), fanoutFamily+app+"/"+group+"/"...)
	return binary.BigEndian.AppendUint64(p, seq)
}

// callKey is "<call's shard>c/<app>/<call_id>".
func callKey(app, callID string) []byte { return ownerKey(CallKey(app, callID)) }

func groupIdempotencyKey(app, group, from, clientMsgID string) []byte {
	return append(groupPrefix(app, group), "i/"+from+"/"+clientMsgID...)
}

func verdictKey(app, user, pushID string) []byte {
	return append(userPrefix(app, user), "v/"+pushID...)
}

// memberTellPrefix is "<group's shard>n/<app>/<group>/".
func memberTellPrefix(app, group string) []byte {
	return append(familyPrefix(ShardOf(GroupKey(app, group)), memberTellFamily), app+"/"+group+"/"...)
}

func memberTellKey(app, group, user string) []byte {
	return append(memberTellPrefix(app, group), user...)
}

// callEventPrefix is "<call's shard>e/<app>/<call_id>/".
func callEventPrefix(app, callID string) []byte {
	return append(familyPrefix(ShardOf(CallKey(app, callID)), callEventFamily), app+"/"+callID+"/"...)
}

func callEventKey(app, callID string, id uint64) []byte {
	return binary.BigEndian.AppendUint64(callEventPrefix(app, callID), id)
}

// liveCallsIndexedKey marks that the shard's ringing calls are all in the l/ index.
func liveCallsIndexedKey(shard uint64) []byte { return append(ShardPrefix(shard), "l!"...) }

// liveCallKey is "<call's shard>l/<timeout_at_ms:be64><app>/<call_id>".
func liveCallKey(app, callID string, timeoutAtMs int64) []byte {
	k := binary.BigEndian.AppendUint64(familyPrefix(ShardOf(CallKey(app, callID)), liveCallFamily), uint64(max(timeoutAtMs, 0)))
	return append(k, app+"/"+callID...)
}
