package actors

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"time"
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

// UserKey is the routing key of a user: "u/<app>/<user>".
func UserKey(app, user string) string { return "u/" + app + "/" + user }

func splitUserKey(key string) (app, user string, ok bool) {
	rest, ok := strings.CutPrefix(key, "u/")
	if !ok {
		return "", "", false
	}
	return strings.Cut(rest, "/")
}
