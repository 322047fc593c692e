package api

import (
	"net"
	"net/http"
	"testing"

	"github.com/pushd-im/pushd/storage"
)

// TestTraceMergesClusterMembers: in a cluster each member holds the trace records of the shards
// it has replicas of; the node asked merges its own with every other member's, once each
// (replicas hold the same records), in time order, and says when a member did not answer.
func TestTraceMergesClusterMembers(t *testing.T) {
	job := storage.TraceEvent{Kind: storage.TracePushJob, AtMs: 1000, User: "bob", Device: "phone", PushID: "p1", Provider: "apns"}
	verdict := storage.TraceEvent{Kind: storage.TraceVendor, AtMs: 1200, User: "bob", Device: "phone", PushID: "p1", Provider: "apns",
		Verdict: "delivered", Attempt: 1}
	frame := storage.TraceEvent{Kind: storage.TraceFrameSent, AtMs: 1000, User: "carol", Device: "pad"}
	peer := startFakeAPI(t, &fakeNode{trace: []storage.TraceEvent{job, verdict}})
	peerAddr := "http://" + peer.srv.Addr()
	// A member that is gone: its address refuses connections.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := "http://" + ln.Addr().String()
	ln.Close()
	peers := []string{peerAddr}
	a := startFakeAPI(t, &fakeNode{trace: []storage.TraceEvent{job, frame}}, func(o *Options) {
		o.Peers = func() []string { return peers }
	})

	st, out := a.do("GET", "/v1/messages/m1/trace", "", "")
	if st != http.StatusOK || out["complete"] != true || out["device_count"] != float64(2) {
		t.Fatalf("trace: %d %v", st, out)
	}
	var bob map[string]any
	for _, d := range out["devices"].([]any) {
		if d := d.(map[string]any); d["user_id"] == "bob" {
			bob = d
		}
	}
	evs, _ := bob["events"].([]any)
	if len(evs) != 2 || evs[0].(map[string]any)["event"] != "push_job" || evs[1].(map[string]any)["verdict"] != "delivered" || bob["outcome"] != "delivered" {
		t.Fatalf("bob's phone: %v, want the push job once, then the verdict", bob)
	}
	if c := out["counts"].(map[string]any); c["delivered"] != float64(1) || c["frame_sent"] != float64(1) {
		t.Errorf("counts %v", c)
	}
	_, one := a.do("GET", "/v1/messages/m1/trace?user=carol", "", "")
	if devs := one["devices"].([]any); len(devs) != 1 || devs[0].(map[string]any)["device_id"] != "pad" {
		t.Errorf("?user=carol: %v", one["devices"])
	}

	peers = []string{peerAddr, gone}
	if st, out := a.do("GET", "/v1/messages/m1/trace", "", ""); st != http.StatusOK || out["complete"] != false {
		t.Errorf("with a member gone: %d complete=%v, want 200 and complete false", st, out["complete"])
	}
	a.wantError("GET", "/v1/messages/m1/trace", "bob", "", http.StatusForbidden, codeForbidden)
	a.wantError("GET", "/v1/messages/m1/trace?user=a/b", "", "", http.StatusBadRequest, codeBadRequest)
	// No member holds a record of the message.
	nobody := startFakeAPI(t, &fakeNode{}).srv.Addr()
	empty := startFakeAPI(t, &fakeNode{}, func(o *Options) { o.Peers = func() []string { return []string{"http://" + nobody} } })
	empty.wantError("GET", "/v1/messages/nosuch/trace", "", "", http.StatusNotFound, codeUnknownMessage)
}
