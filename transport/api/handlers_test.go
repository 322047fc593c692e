package api

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushd-im/pushd/actors"
	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/storage"
	"github.com/pushd-im/pushd/wire"
)

// fakeNode is the handlers' side of the Node seam: it records what a
// handler asked and answers what the test set. It stands in for the node
// only; the store and the actors are tested against the real things.
type fakeNode struct {
	mu       sync.Mutex
	binds    []*wire.Binding
	sent     []*wire.Message
	groupOps []wire.GroupOp
	devices  []*wire.Binding
	badges   []string             // "user=count" of each SetBadge
	trace    []storage.TraceEvent // what this node's store holds of a message's trace
	err      error                // every call's error, when set
}

// calls returns what the handlers asked so far; the lock orders the
// handler's writes before the test's reads (for the race detector too).
func (f *fakeNode) calls() (binds []*wire.Binding, sent []*wire.Message, ops []wire.GroupOp) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.binds, f.sent, f.groupOps
}

func (f *fakeNode) record(do func()) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	do()
	return f.err
}

func (f *fakeNode) Bind(_ context.Context, b *wire.Binding) (string, error) {
	return "p-" + b.Token, f.record(func() { f.binds = append(f.binds, b) })
}
func (f *fakeNode) Unbind(context.Context, string, string, string) error { return f.record(func() {}) }
func (f *fakeNode) Logout(context.Context, string, string, string) error { return f.record(func() {}) }
func (f *fakeNode) SetBadge(_ context.Context, _, user string, count uint32) error {
	return f.record(func() { f.badges = append(f.badges, fmt.Sprintf("%s=%d", user, count)) })
}
func (f *fakeNode) Devices(context.Context, string, string) ([]*wire.Binding, error) {
	return f.devices, f.record(func() {})
}
func (f *fakeNode) Send(_ context.Context, m *wire.Message) (*wire.SendReply, error) {
	err := f.record(func() { f.sent = append(f.sent, m) })
	return &wire.SendReply{MessageId: "m1", Seq: 7, TimestampMs: 1_800_000_000_000}, err
}
func (f *fakeNode) SendMany(_ context.Context, ms []*wire.Message) ([]*wire.SendReply, []error) {
	out, errs := make([]*wire.SendReply, len(ms)), make([]error, len(ms))
	for i, m := range ms {
		out[i], errs[i] = f.Send(context.Background(), m)
	}
	return out, errs
}
func (f *fakeNode) TestPush(context.Context, string, string, actors.TestPushOptions) (*wire.Binding, push.Result, error) {
	return &wire.Binding{}, push.Result{}, f.record(func() {})
}
func (f *fakeNode) PushRaw(context.Context, string, []actors.RawPush) error {
	return f.record(func() {})
}
func (f *fakeNode) AppProviders(string) []string { return nil }
func (f *fakeNode) OutboxBacklog(string, int) (map[string]actors.Backlog, bool, error) {
	return nil, true, f.record(func() {})
}
func (f *fakeNode) OwnsUser(string, string) bool { return true }
func (f *fakeNode) UserStreams(string, string, int) ([]actors.StreamView, map[string]map[string]uint64, error) {
	return nil, nil, f.record(func() {})
}
func (f *fakeNode) Address() string { return "fake" }
func (f *fakeNode) Trace(string, string) ([]storage.TraceEvent, error) {
	if len(f.trace) == 0 {
		return nil, storage.ErrTraceNotFound
	}
	return f.trace, nil
}
func (f *fakeNode) GroupSet(_ context.Context, _, _ string, op wire.GroupOp, members []string) (uint64, error) {
	return uint64(len(members)), f.record(func() { f.groupOps = append(f.groupOps, op) })
}
func (f *fakeNode) GroupMembers(context.Context, string, string) ([]string, error) {
	return []string{"a", "b"}, f.record(func() {})
}
func (f *fakeNode) Strangers(context.Context, string, string, []string) ([]string, error) {
	return nil, nil
}
func (f *fakeNode) Call(context.Context, *wire.CallRequest) (*wire.CallReply, error) {
	return &wire.CallReply{}, f.record(func() {})
}
func (f *fakeNode) CheckConnect(context.Context, string, string, string) error {
	return f.record(func() {})
}
func (f *fakeNode) OpenSession(context.Context, string, string, string, actors.Conn, bool) (*actors.Session, error) {
	return nil, errors.New("the fake node keeps no sessions")
}

// startFakeAPI is a real Server on loopback over fake.
func startFakeAPI(t *testing.T, fake *fakeNode, mods ...func(*Options)) *testAPI {
	t.Helper()
	a := &testAPI{t: t, key: "test-key-0123456789", secret: []byte("test-secret-0123456789")}
	o := Options{Listen: "127.0.0.1:0", Node: fake,
		Apps: []*App{{ID: "demo", APIKeySums: [][sha256.Size]byte{sha256.Sum256([]byte(a.key))}, ClientTokenSecret: a.secret}}}
	for _, m := range mods {
		m(&o)
	}
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	a.srv, a.base = srv, "http://"+srv.Addr()
	return a
}

func TestBindHandler(t *testing.T) {
	fake := &fakeNode{}
	a := startFakeAPI(t, fake)
	st, out := a.do("POST", "/v1/devices", "bob", `{"device_id":"phone","provider":"honor","token":"tok-1"}`)
	if st != http.StatusOK || out["push_id"] != "p-tok-1" {
		t.Fatalf("bind: %d %v", st, out)
	}
	binds, _, _ := fake.calls()
	b := binds[0]
	if b.App != "demo" || b.User != "bob" || b.DeviceId != "phone" || b.Provider != "honor" || b.PushType != "alert" || b.ApnsEnv != "" {
		t.Errorf("the node got %+v", b)
	}
	// Refused before the node hears of it.
	a.wantError("POST", "/v1/devices", "bob", `{"device_id":"phone","provider":"meizu","token":"t"}`, http.StatusBadRequest, codeBadRequest)
	a.wantError("POST", "/v1/devices", "bob", `{"device_id":"phone","provider":"apns","token":"not-hex"}`, http.StatusBadRequest, codeBadRequest)
	a.wantError("POST", "/v1/devices", "bob", `{"device_id":"phone","provider":"fcm","token":"t","push_type":"voip"}`, http.StatusBadRequest, codeBadRequest)
	if binds, _, _ := fake.calls(); len(binds) != 1 {
		t.Errorf("refused binds reached the node: %d", len(binds))
	}
}

func TestSendHandler(t *testing.T) {
	fake := &fakeNode{}
	a := startFakeAPI(t, fake)
	st, out := a.do("POST", "/v1/messages", "", `{"from":"alice","to":"bob","conversation_type":0,"type":1,"body":"hi"}`)
	if st != http.StatusOK || out["message_id"] != "m1" || out["seq"] != float64(7) || out["timestamp"] != float64(1_800_000_000_000) {
		t.Fatalf("send: %d %v", st, out)
	}
	_, sent, _ := fake.calls()
	m := sent[0]
	if m.App != "demo" || m.From != "alice" || m.To != "bob" || m.Priority != int32(push.PriorityMedium) {
		t.Errorf("the node got %+v", m)
	}
	// A client sends as itself: a from naming another user is refused.
	a.wantError("POST", "/v1/messages", "bob", `{"from":"alice","to":"carol","conversation_type":0,"type":1,"body":"hi"}`, http.StatusBadRequest, codeBadRequest)
}

func TestGroupHandlersSendTheirOp(t *testing.T) {
	fake := &fakeNode{}
	a := startFakeAPI(t, fake)
	for _, c := range []struct{ method, path string }{{"PUT", "/v1/groups/g"}, {"POST", "/v1/groups/g/members"}, {"DELETE", "/v1/groups/g/members"}} {
		if st, out := a.do(c.method, c.path, "", `{"members":["a","b","c"]}`); st != http.StatusOK || out["members"] != float64(3) {
			t.Fatalf("%s %s: %d %v", c.method, c.path, st, out)
		}
	}
	if _, _, ops := fake.calls(); !slices.Equal(ops, []wire.GroupOp{wire.GroupReplace, wire.GroupAdd, wire.GroupRemove}) {
		t.Errorf("ops %v, want replace, add, remove", ops)
	}
	if st, out := a.do("GET", "/v1/groups/g", "", ""); st != http.StatusOK || out["count"] != float64(2) {
		t.Errorf("members: %d %v", st, out)
	}
}

// TestNodeErrorsBecomeAnswers: what the node answers reaches the client as
// the status and code of its kind.
func TestNodeErrorsBecomeAnswers(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
		code   string
	}{
		{&actors.RequestError{Code: wire.CodeNotMember, Message: "no"}, http.StatusForbidden, string(wire.CodeNotMember)},
		{&actors.RequestError{Code: wire.CodeTooManyDevices, Message: "10"}, http.StatusConflict, string(wire.CodeTooManyDevices)},
		{actors.ErrUnavailable, http.StatusServiceUnavailable, codeUnavailable},
		{errors.New("disk on fire"), http.StatusInternalServerError, codeInternal},
	} {
		a := startFakeAPI(t, &fakeNode{err: c.err})
		a.wantError("POST", "/v1/devices", "bob", `{"device_id":"phone","provider":"fcm","token":"t"}`, c.status, c.code)
	}
}

func TestDevicesHandler(t *testing.T) {
	fake := &fakeNode{devices: []*wire.Binding{{PushId: "p1", DeviceId: "phone", Provider: "honor", PushType: "alert", LastVerdict: "delivered"}, {PushId: "p2", DeviceId: "pad", Provider: "fcm"}}}
	a := startFakeAPI(t, fake)
	st, out := a.do("GET", "/v1/users/bob/devices", "", "")
	devs, _ := out["devices"].([]any)
	if st != http.StatusOK || len(devs) != 2 {
		t.Fatalf("devices: %d %v", st, out)
	}
	first, second := devs[0].(map[string]any), devs[1].(map[string]any)
	if first["push_id"] != "p1" || first["last_verdict"] != "delivered" || second["last_verdict"] != nil || second["apns_env"] != nil {
		t.Errorf("devices %v", devs)
	}
}

// POST /v1/badge sets the client's own badge; a count that is missing, of the
// wrong type or out of range is refused naming the field, before the node
// hears of it; an API key is not a user.
func TestBadgeHandler(t *testing.T) {
	fake := &fakeNode{}
	a := startFakeAPI(t, fake)
	if st, out := a.do("POST", "/v1/badge", "bob", `{"count":0}`); st != http.StatusOK || out["count"] != float64(0) {
		t.Fatalf("set 0: %d %v", st, out)
	}
	if st, out := a.do("POST", "/v1/badge", "bob", `{"count":99999}`); st != http.StatusOK || out["count"] != float64(99999) {
		t.Fatalf("set 99999: %d %v", st, out)
	}
	for body, field := range map[string]string{
		`{}`:               "count: is required",
		`{"count":-1}`:     "count: must be 0 to 99999, not -1",
		`{"count":100000}`: "count: must be 0 to 99999, not 100000",
		`{"count":"3"}`:    "count",
		`{"count":1.5}`:    "count",
		`{"count":1e30}`:   "count",
		``:                 "body",
	} {
		st, out := a.do("POST", "/v1/badge", "bob", body)
		e, _ := out["error"].(map[string]any)
		msg, _ := e["message"].(string)
		if st != http.StatusBadRequest || e["code"] != codeBadRequest || !strings.Contains(msg, field) {
			t.Errorf("body %q: %d %v, want 400 bad_request naming %q", body, st, out, field)
		}
	}
	a.wantError("POST", "/v1/badge", "bob", `{"count":1,"n":2}`, http.StatusBadRequest, codeUnknownField)
	a.wantError("POST", "/v1/badge", "", `{"count":0}`, http.StatusForbidden, codeForbidden)
	a.wantError("GET", "/v1/badge", "bob", "", http.StatusMethodNotAllowed, codeBadMethod)
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if want := []string{"bob=0", "bob=99999"}; !slices.Equal(fake.badges, want) {
		t.Errorf("the node was asked %v, want %v", fake.badges, want)
	}
}
