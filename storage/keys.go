package storage

import (
	"encoding/binary"
	"strings"
)

// userPrefix is "u/<app>/<user>/": the prefix of every key the user owns.
func userPrefix(app, user string) []byte {
	return []byte("u/" + app + "/" + user + "/")
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

func pushIndexKey(pushID string) []byte { return []byte("p/" + pushID) }

const outboxPrefix = "o/"

func outboxKey(id uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(outboxPrefix), id)
}

const chunkPrefix = "k/"

func chunkKey(id uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(chunkPrefix), id)
}

// fanoutMarkKey marks that this node wrote the pushes of one chunk of a group
// message's fan-out: the chunk is named by the message's seq and its first member.
func fanoutMarkKey(app, group string, seq uint64, first string) []byte {
	return append(binary.BigEndian.AppendUint64(append(groupPrefix(app, group), "d/"...), seq), first...)
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

// splitOwner parses the "<app>/<user>" value of a push index key.
func splitOwner(v []byte) (app, user string, ok bool) { return cutSlash(string(v)) }

// cutSlash splits s at its first '/' into two non-empty parts.
func cutSlash(s string) (before, after string, ok bool) {
	before, after, ok = strings.Cut(s, "/")
	return before, after, ok && before != "" && after != ""
}

// quotaKey counts the pushes an (app, provider) made on one vendor day.
func quotaKey(app, provider, day string) []byte {
	return []byte("q/" + app + "/" + provider + "/" + day)
}

// groupPrefix is "g/<app>/<group>/": every key of a group.
func groupPrefix(app, group string) []byte { return []byte("g/" + app + "/" + group + "/") }

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

func fanoutKey(app, group string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte("f/"+app+"/"+group+"/"), seq)
}

func callKey(app, callID string) []byte { return []byte("c/" + app + "/" + callID) }

func groupIdempotencyKey(app, group, from, clientMsgID string) []byte {
	return append(groupPrefix(app, group), "i/"+from+"/"+clientMsgID...)
}

func verdictKey(app, user, pushID string) []byte {
	return append(userPrefix(app, user), "v/"+pushID...)
}
