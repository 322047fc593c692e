package actors

import (
	"sync"

	"github.com/asynkron/protoactor-go/actor"
)

// replySink collects the replies to many requests with one registered
// process, where protoactor's futures take one each: a process id, a timer
// and a mailbox per request weigh on batched ingest. Request i
// carries the sink's pid with RequestId i as its sender; the actor answers
// that pid as it would a future's, and the sink files the answer under i.
// The request id does not survive the remote, so a sink of many requests is
// for senders in this process only; a sink of one (id 0) also serves a
// request to another node (Node.await's, given up by removing the sink).
type replySink struct {
	pid *actor.PID

	mu      sync.Mutex
	results []any
	left    int
	done    chan struct{}
}

// newReplySink registers a sink with room for size requests, waiting for
// none yet (see expect); remove it when done.
func (n *Node) newReplySink(size int) *replySink {
	s := &replySink{results: make([]any, size), done: make(chan struct{})}
	id := "replies$" + n.system.ProcessRegistry.NextId()
	s.pid, _ = n.system.ProcessRegistry.Add(s, id)
	return s
}

// expect sets how many answers close done; call it before the requests go.
func (s *replySink) expect(count int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.left = count
}

// sender is the pid request i names as its sender.
func (s *replySink) sender(i int) *actor.PID {
	return &actor.PID{Address: s.pid.Address, Id: s.pid.Id, RequestId: uint32(i)}
}

// remove unregisters the sink; later answers go nowhere.
func (n *Node) removeReplySink(s *replySink) { n.system.ProcessRegistry.Remove(s.pid) }

// result is request i's answer, nil if none came.
func (s *replySink) result(i int) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.results[i]
}

// SendUserMessage files an answer; the first one for each request counts.
func (s *replySink) SendUserMessage(pid *actor.PID, message any) {
	i := int(pid.RequestId)
	s.mu.Lock()
	defer s.mu.Unlock()
	if i >= len(s.results) || s.results[i] != nil {
		return
	}
	s.results[i] = message
	s.left--
	if s.left == 0 {
		close(s.done)
	}
}

// SendSystemMessage: a sink watches nothing.
func (s *replySink) SendSystemMessage(*actor.PID, any) {}

// Stop: a sink is removed by its owner.
func (s *replySink) Stop(*actor.PID) {}

// routedBatch is many requests for the router in one message: SendMany's
// local messages, each with its own sender.
type routedBatch struct {
	items []heldMessage
}
