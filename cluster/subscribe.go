package cluster

// subscription is one Subscribe channel. Only the publisher (holding Node.subsMu) sends on it.
type subscription struct {
	ch chan Placement
}

// offer replaces whatever placement the subscriber has not read yet with p.
func (s *subscription) offer(p Placement) {
	select {
	case <-s.ch:
	default:
	}
	select {
	case s.ch <- p:
	default: // unreachable: the one slot was just emptied and there is no other sender
	}
}

// Subscribe returns a channel that receives the current placement at once, then each new one. The
// channel holds one placement: a reader that falls behind finds only the latest. The returned
// function unsubscribes and closes the channel; Shutdown closes it too. Calling Subscribe after
// Shutdown returns a channel holding the last placement, already closed.
func (n *Node) Subscribe() (<-chan Placement, func()) {
	s := &subscription{ch: make(chan Placement, 1)}
	n.subsMu.Lock()
	defer n.subsMu.Unlock()
	s.ch <- *n.placement.Load()
	if n.subsClosed {
		close(s.ch)
		return s.ch, func() {}
	}
	n.subs[s] = struct{}{}
	return s.ch, func() {
		n.subsMu.Lock()
		defer n.subsMu.Unlock()
		if _, ok := n.subs[s]; ok {
			delete(n.subs, s)
			close(s.ch)
		}
	}
}

// publish makes p the current placement and offers it to every subscriber.
func (n *Node) publish(p *Placement) {
	n.subsMu.Lock()
	defer n.subsMu.Unlock()
	n.placement.Store(p)
	for s := range n.subs {
		s.offer(*p)
	}
}

func (n *Node) closeSubscriptions() {
	n.subsMu.Lock()
	defer n.subsMu.Unlock()
	n.subsClosed = true
	for s := range n.subs {
		close(s.ch)
	}
	clear(n.subs)
}
