package actors

import (
	"strings"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/pushd-im/pushd/wire"
)

// router is the one shard actor of a node: it keeps an O(1) map of the live
// user actors it owns, activates them on their first message, passivates them
// when they ask, and answers NotOwner for keys placed on another node.
type router struct {
	n        *Node
	children map[string]*child // key → child
	byID     map[string]string // child pid id → key
	// connected are the user actors with live connections.
	connected map[string]bool
}

// connectedChanged is a user actor saying whether it has live connections.
type connectedChanged struct {
	key       string
	pid       *actor.PID
	connected bool
}

type child struct {
	pid      *actor.PID
	stopping bool
	// released: stopping because its shard was released; it asks to be
	// passivated once its commits in flight are answered.
	released bool
	// held are messages that arrived while the child was stopping; they go to
	// its successor so that two incarnations never run at once.
	held []heldMessage
}

type heldMessage struct {
	msg    any // *local or *wire.Envelope
	sender *actor.PID
}

// passivate asks the router to stop an idle child.
type passivate struct {
	key string
	pid *actor.PID
}

func newRouter(n *Node) *router {
	return &router{n: n, children: map[string]*child{}, byID: map[string]string{}, connected: map[string]bool{}}
}

func (r *router) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *wire.Envelope, *local:
		r.route(ctx, m, ctx.Sender())
	case *routedBatch:
		for _, it := range m.items {
			r.route(ctx, it.msg, it.sender)
		}
	case *wire.EnvelopeBatch:
		r.n.answerBatch(ctx, r, m)
	case *releaseShard:
		r.release(ctx, m.shard)
	case *passivate:
		c := r.children[m.key]
		if c != nil && (!c.stopping || c.released) && c.pid.Equal(m.pid) {
			c.stopping, c.released = true, false
			ctx.Poison(c.pid)
		}
	case *connectedChanged:
		if c := r.children[m.key]; c != nil && c.pid.Equal(m.pid) {
			if m.connected {
				r.connected[m.key] = true
			} else {
				delete(r.connected, m.key)
			}
		}
	case *actor.Terminated:
		key, ok := r.byID[m.Who.Id]
		if !ok {
			return
		}
		delete(r.byID, m.Who.Id)
		delete(r.connected, key)
		c := r.children[key]
		delete(r.children, key)
		r.countActor(key, -1)
		if c != nil && len(c.held) > 0 {
			for _, h := range c.held {
				r.route(ctx, h.msg, h.sender)
			}
		}
	}
}

// producer makes the actor a key names: u/<app>/<user>, g/<app>/<group>, c/<app>/<call>.
func (r *router) producer(key string) actor.Producer {
	kind, app, id, ok := splitKey(key)
	if !ok {
		return nil
	}
	switch kind {
	case "u":
		return func() actor.Actor { return newUser(r.n, app, id) }
	case "g":
		return func() actor.Actor { return newGroup(r.n, app, id) }
	case "c":
		return func() actor.Actor { return newCall(r.n, app, id) }
	case "t":
		return func() actor.Actor { return newToken(r.n, app, id) }
	}
	return nil
}

// countActor adds d to the gauges of the kind of actor key names.
func (r *router) countActor(key string, d float64) {
	kind, _, _, _ := splitKey(key)
	name := "call"
	switch kind {
	case "u":
		name = "user"
		r.n.o.Metrics.ActiveUsers.Add(d)
	case "g":
		name = "group"
	case "t":
		name = "token"
	}
	r.n.o.Metrics.ActiveActors.WithLabelValues(name).Add(d)
}

// connectedUser reports whether the user's actor has live connections (and so
// must see a group message itself).
func (r *router) connectedUser(key string) bool {
	c := r.children[key]
	return c != nil && !c.stopping && r.connected[key]
}

func (r *router) route(ctx actor.Context, m any, sender *actor.PID) {
	key, _ := routingKey(m)
	if strings.HasPrefix(key, nodeKeyPrefix) {
		r.nodeWork(ctx, key, m, sender)
		return
	}
	if !r.n.ownsKey(key) {
		owner, _ := r.n.place.Owner(key)
		r.n.send(ctx, sender, key, &wire.NotOwner{Key: key, Owner: owner})
		return
	}
	c := r.children[key]
	if c == nil {
		producer := r.producer(key)
		if producer == nil {
			r.n.send(ctx, sender, key, &wire.Reply{Error: errReply(wire.CodeBadKey, "no actor kind for key %q", key)})
			return
		}
		pid := ctx.Spawn(r.n.props(producer))
		c = &child{pid: pid}
		r.children[key] = c
		r.byID[pid.Id] = key
		r.countActor(key, 1)
	}
	if c.stopping {
		c.held = append(c.held, heldMessage{m, sender})
		return
	}
	ctx.RequestWithCustomSender(c.pid, m, sender)
}
