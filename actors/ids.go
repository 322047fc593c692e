package actors

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"time"

	"github.com/pushd-im/pushd/storage"
)

var idEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// NewMessageID returns a 26-character id that sorts by creation time.
func NewMessageID(now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli()))
	_, _ = rand.Read(b[8:])
	return idEncoding.EncodeToString(b[2:])
}

// PushID names the binding of a vendor token inside an app. It is derived from
// the token, so binding the same token again gives the same push id.
func PushID(app, provider, token string) string {
	h := sha256.Sum256([]byte(app + "\x00" + provider + "\x00" + token))
	return "p" + hex.EncodeToString(h[:15])
}

// The routing keys of the actors are the owner keys of their data in storage,
// so that storage.ShardOf places both alike.

// UserKey is the routing key of a user: "u/<app>/<user>".
func UserKey(app, user string) string { return storage.UserKey(app, user) }

// GroupKey is the routing key of a group: "g/<app>/<group>".
func GroupKey(app, group string) string { return storage.GroupKey(app, group) }

// CallKey is the routing key of a call: "c/<app>/<call_id>".
func CallKey(app, callID string) string { return storage.CallKey(app, callID) }

// TokenKey is the routing key of a push id's token actor, which keeps the
// push id index entry: "t/<app>/<push_id>".
func TokenKey(app, pushID string) string { return storage.TokenKey(app, pushID) }

// nodeKeyPrefix addresses a node's router itself ("n/<node>"): work for the
// users a node owns, not for one actor.
const nodeKeyPrefix = "n/"

// splitKey splits "<kind>/<app>/<id>".
func splitKey(key string) (kind, app, id string, ok bool) {
	kind, rest, ok1 := strings.Cut(key, "/")
	app, id, ok2 := strings.Cut(rest, "/")
	return kind, app, id, ok1 && ok2 && app != "" && id != "" && !strings.Contains(id, "/")
}
