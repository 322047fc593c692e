package actors

import (
	"encoding/json"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/wire"
)

// Invitee states of a call.
const (
	stateRinging   = "ringing"
	stateAccepted  = "accepted"
	stateRejected  = "rejected"
	stateTimeout   = "timeout"
	stateCancelled = "cancelled"
)

// callActor owns one call invitation (ZIM call invitation): who rings, who
// answered, and the timeout timer. Its state is in Pebble, so a restart keeps
// the call ringing and fires the timeout when due. Every event it makes is
// stored with the change that made it, handed to its receiver before the
// request is answered, and retried until the receiver's inbox has it
// (callEvents).
type callActor struct {
	n         *Node
	app, id   string
	key       string
	self      *actor.PID
	rec       *wire.CallRecord
	stopTimer func() bool
	idle      idleWatch
	loadErr   error
	events    callEvents
}

// callTimedOut is the call's timer firing.
type callTimedOut struct{}

func newCall(n *Node, app, id string) *callActor {
	return &callActor{n: n, app: app, id: id, key: CallKey(app, id)}
}

func (c *callActor) Receive(ctx actor.Context) {
	if c.idle.receive(ctx, c.n, c.key, (c.rec != nil && !c.rec.Ended) || c.events.busy(), false) {
		return
	}
	switch m := ctx.Message().(type) {
	case *actor.Started:
		c.self = ctx.Self()
		rec, ok, err := c.n.o.Store.Call(c.app, c.id)
		if err == nil {
			err = c.n.o.Store.CallEvents(c.app, c.id, func(id uint64, e *wire.CallEvent) bool {
				c.events.add(id, e)
				return true
			})
		}
		c.loadErr = err
		if ok {
			c.rec = rec
			c.arm()
		}
		c.deliver(ctx, nil, nil)
	case *actor.Stopping:
		if c.stopTimer != nil {
			c.stopTimer()
		}
	case callTimedOut:
		c.timeout(ctx)
	case *callDelivered:
		c.delivered(ctx, m)
	case retryCallEvents:
		c.events.retryArmed = false
		c.deliver(ctx, nil, nil)
	case *wire.Envelope, *local:
		sender := ctx.Sender()
		msg, err := unpack(m)
		if err != nil {
			c.reply(ctx, sender, &wire.CallReply{Error: errReply(wire.CodeUnknownType, "%v", err)})
			return
		}
		req, ok := msg.(*wire.CallRequest)
		if !ok {
			c.reply(ctx, sender, &wire.CallReply{Error: errReply(wire.CodeUnknownType, "call actor does not handle %T", msg)})
			return
		}
		if c.loadErr != nil {
			c.reply(ctx, sender, &wire.CallReply{Error: errReply(wire.CodeStorageFailed, "call state unavailable")})
			return
		}
		r, events := c.handle(req)
		if r.Error != nil || len(events) == 0 {
			c.reply(ctx, sender, r)
			return
		}
		c.deliver(ctx, sender, r)
	}
}

func (c *callActor) reply(ctx actor.Context, to *actor.PID, m *wire.CallReply) {
	c.n.send(ctx, to, c.key, m)
}

// handle makes the request's change and returns the answer and the events it
// stored with it, which are delivered before the answer goes out.
func (c *callActor) handle(r *wire.CallRequest) (*wire.CallReply, []eventFor) {
	action := wire.CallAction(r.Action)
	if action == wire.CallResume {
		return &wire.CallReply{CallId: c.id}, nil
	}
	if action == wire.CallInvite {
		return c.invite(r)
	}
	if c.rec == nil {
		return &wire.CallReply{Error: errReply(wire.CodeNotFound, "call %s does not exist", c.id)}, nil
	}
	switch action {
	case wire.CallCancel:
		return c.cancel(r)
	case wire.CallAccept, wire.CallReject:
		return c.answer(r)
	}
	return &wire.CallReply{Error: errReply(wire.CodeBadRequest, "unknown call action %q", r.Action)}, nil
}

func (c *callActor) invite(r *wire.CallRequest) (*wire.CallReply, []eventFor) {
	if c.rec != nil {
		return &wire.CallReply{Error: errReply(wire.CodeConflict, "call %s exists", c.id)}, nil
	}
	now := c.n.now()
	rec := &wire.CallRecord{
		App: c.app, CallId: c.id, Inviter: r.User, CreatedAtMs: now.UnixMilli(),
		TimeoutS: r.TimeoutS, TimeoutAtMs: now.Add(time.Duration(r.TimeoutS) * time.Second).UnixMilli(),
		Mode: r.Mode, ExtendedData: r.ExtendedData, PushConfig: r.PushConfig,
	}
	var names []string
	for _, u := range r.Invitees {
		rec.Invitees = append(rec.Invitees, &wire.CallInvitee{User: u, State: stateRinging})
		names = append(names, u)
	}
	fields := map[string]any{"inviter": rec.Inviter, "invitees": names, "mode": modeNumber(rec.Mode), "extended_data": rec.ExtendedData, "timeout": rec.TimeoutS}
	var events []eventFor
	for _, u := range names {
		events = append(events, eventFor{user: u, from: rec.Inviter, event: eventInvitation, fields: fields, pc: rec.PushConfig, ringingUntil: rec.TimeoutAtMs})
	}
	if err := c.store(rec, false, events); err != nil {
		return &wire.CallReply{Error: storageError(err, "%v", err)}, nil
	}
	c.rec = rec
	c.arm()
	return &wire.CallReply{CallId: c.id, TimeoutS: rec.TimeoutS}, events
}

func (c *callActor) cancel(r *wire.CallRequest) (*wire.CallReply, []eventFor) {
	rec := proto.CloneOf(c.rec)
	if r.User != rec.Inviter {
		return &wire.CallReply{Error: errReply(wire.CodeForbidden, "only the inviter %s may cancel call %s", rec.Inviter, c.id)}, nil
	}
	if rec.Ended {
		return &wire.CallReply{Error: errReply(wire.CodeCallEnded, "call %s has ended", c.id)}, nil
	}
	var events []eventFor
	fields := map[string]any{"inviter": rec.Inviter, "extended_data": r.ExtendedData}
	for _, iv := range rec.Invitees {
		if iv.State == stateRinging {
			iv.State = stateCancelled
			events = append(events, eventFor{user: iv.User, from: rec.Inviter, event: eventCancelled, fields: fields, pc: r.PushConfig, stop: true})
		}
	}
	rec.Ended = true
	if err := c.store(rec, true, events); err != nil {
		return &wire.CallReply{Error: storageError(err, "%v", err)}, nil
	}
	c.rec = rec
	return &wire.CallReply{CallId: c.id}, events
}

func (c *callActor) answer(r *wire.CallRequest) (*wire.CallReply, []eventFor) {
	rec := proto.CloneOf(c.rec)
	var iv *wire.CallInvitee
	for _, x := range rec.Invitees {
		if x.User == r.User {
			iv = x
		}
	}
	if iv == nil {
		return &wire.CallReply{Error: errReply(wire.CodeForbidden, "%s is not invited to call %s", r.User, c.id)}, nil
	}
	if iv.State != stateRinging {
		return &wire.CallReply{Error: errReply(wire.CodeCallEnded, "call %s is no longer ringing for %s (%s)", c.id, r.User, iv.State)}, nil
	}
	event := eventAccepted
	iv.State = stateAccepted
	if wire.CallAction(r.Action) == wire.CallReject {
		event, iv.State = eventRejected, stateRejected
	}
	rec.Ended = ringing(rec) == 0
	fields := map[string]any{"invitee": r.User, "extended_data": r.ExtendedData}
	events := []eventFor{
		{user: rec.Inviter, from: r.User, event: event, fields: fields},
		// The invitee's other devices stop ringing.
		{user: r.User, from: r.User, event: event, fields: fields, stop: true, except: r.DeviceId},
	}
	if err := c.store(rec, rec.Ended, events); err != nil {
		return &wire.CallReply{Error: storageError(err, "%v", err)}, nil
	}
	c.rec = rec
	return &wire.CallReply{CallId: c.id}, events
}

// timeout ends the call for everyone still ringing.
func (c *callActor) timeout(ctx actor.Context) {
	if c.rec == nil || c.rec.Ended {
		return
	}
	rec := proto.CloneOf(c.rec)
	var events []eventFor
	for _, iv := range rec.Invitees {
		if iv.State == stateRinging {
			iv.State = stateTimeout
			events = append(events,
				eventFor{user: iv.User, from: rec.Inviter, event: eventTimeout, fields: map[string]any{"inviter": rec.Inviter}, stop: true},
				eventFor{user: rec.Inviter, from: iv.User, event: eventTimeout, fields: map[string]any{"invitee": iv.User}})
		}
	}
	rec.Ended = true
	if err := c.store(rec, true, events); err != nil {
		c.n.log.Error("call timeout not stored; retrying", "call", c.id, "err", err)
		self, root := c.self, c.n.system.Root
		c.n.after(time.Second, func() { root.Send(self, callTimedOut{}) })
		return
	}
	c.rec = rec
	c.deliver(ctx, nil, nil)
}

func ringing(rec *wire.CallRecord) int {
	n := 0
	for _, iv := range rec.Invitees {
		if iv.State == stateRinging {
			n++
		}
	}
	return n
}

// store saves the call's new state with the events it makes, in one batch, so
// that an ended call always has its endings on the way; ended says this change
// ends the call (it leaves the index of ringing calls). Once stored, the
// events are pending, delivered by deliver until their receivers have them.
func (c *callActor) store(rec *wire.CallRecord, ended bool, events []eventFor) error {
	b := c.n.o.Store.NewBatch()
	b.PutCall(rec)
	switch {
	case ended:
		b.DeleteLiveCall(c.app, c.id, rec.TimeoutAtMs)
	case c.rec == nil:
		b.SetLiveCall(c.app, c.id, rec.TimeoutAtMs)
	}
	first := max(c.events.next, 1)
	for i, e := range events {
		b.PutCallEvent(c.app, c.id, first+uint64(i), c.event(e))
	}
	if err := c.n.o.Store.Commit(b, true); err != nil {
		return err
	}
	for i, e := range events {
		c.events.add(first+uint64(i), c.event(e))
		c.n.o.Metrics.Calls.WithLabelValues(e.event).Inc()
	}
	return nil
}

func (c *callActor) arm() {
	if c.rec == nil || c.rec.Ended {
		return
	}
	if c.stopTimer != nil {
		c.stopTimer()
	}
	self, root := c.self, c.n.system.Root
	wait := max(time.UnixMilli(c.rec.TimeoutAtMs).Sub(c.n.now()), 0)
	c.stopTimer = c.n.o.Clock.AfterFunc(wait, func() { root.Send(self, callTimedOut{}) })
}

// eventFor is one call event for one user's inbox.
type eventFor struct {
	user, from, event string
	fields            map[string]any
	pc                *wire.PushConfig
	ringingUntil      int64
	stop              bool
	except            string
}

// event is the message e stores in its receiver's inbox.
func (c *callActor) event(e eventFor) *wire.CallEvent {
	callJSON, _ := json.Marshal(e.fields)
	m := &wire.Message{
		App: c.app, From: e.from, To: e.user, Type: 2, Priority: int32(push.PriorityHigh),
		Event: e.event, CallId: c.id, CallJson: string(callJSON), PushConfig: e.pc,
	}
	return &wire.CallEvent{Message: m, RingingUntilMs: e.ringingUntil, StopRinging: e.stop, ExceptDevice: e.except}
}

// modeNumber shows the call mode as the number the API took.
func modeNumber(mode string) any {
	switch mode {
	case "0":
		return 0
	case "1":
		return 1
	}
	return mode
}
