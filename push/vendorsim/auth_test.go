package vendorsim

import (
	"testing"
	"time"

	"github.com/pushd-im/pushd/push"
)

func TestAccessTokens(t *testing.T) {
	store := newAccessTokens()
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	fcmTok, exp := store.issue(push.FCM, now, time.Hour)
	if !exp.Equal(now.Add(time.Hour)) {
		t.Fatalf("expiry %v", exp)
	}
	hmsTok, _ := store.issue(push.HMS, now, time.Hour)
	if fcmTok == hmsTok {
		t.Fatal("two issues gave the same token")
	}
	if !store.live(push.FCM, fcmTok, now.Add(59*time.Minute)) {
		t.Fatal("fresh token not live")
	}
	if store.live(push.HMS, fcmTok, now) {
		t.Fatal("an FCM token is live for HMS")
	}
	if store.live(push.FCM, fcmTok, now.Add(time.Hour)) {
		t.Fatal("token live at its expiry")
	}
	// Issuing drops expired tokens.
	store.issue(push.FCM, now.Add(2*time.Hour), time.Hour)
	if len(store.issued) != 1 {
		t.Fatalf("%d tokens kept, want 1", len(store.issued))
	}
	store.expireAll()
	if len(store.issued) != 0 {
		t.Fatal("expireAll kept tokens")
	}
}

func TestSignHelpers(t *testing.T) {
	if got := md5Hex(""); got != "d41d8cd98f00b204e9800998ecf8427e" {
		t.Fatalf("md5Hex = %s", got)
	}
	if got := sha256Hex("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("sha256Hex = %s", got)
	}
	if !secretEqual("abc", "abc") || secretEqual("abc", "abd") || secretEqual("abc", "ab") {
		t.Fatal("secretEqual")
	}
	for header, want := range map[string]string{
		"Bearer abc":    "abc",
		"bearer  abc  ": "abc",
		"BEARER abc":    "abc",
		"Basic abc":     "",
		"Bearer":        "",
		"Bearer ":       "",
		"":              "",
	} {
		got, ok := parseBearer(header)
		if got != want || ok != (want != "") {
			t.Errorf("parseBearer(%q) = %q, %v; want %q", header, got, ok, want)
		}
	}
}
