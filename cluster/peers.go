package cluster

import (
	"context"
	"fmt"
	"strings"
	"time"
)

const (
	// peerCheckTimeout bounds one VerifyPeer call.
	peerCheckTimeout = 5 * time.Second
	// peerRetryMin and peerRetryMax bound the wait before a failed peer is checked again: a peer
	// whose certificate is renewed, or whose listener was not up yet, is placed once it passes.
	peerRetryMin = 250 * time.Millisecond
	peerRetryMax = 10 * time.Second
	// peerFailuresToGiveUp is how many failed checks of every peer seen make Start give up.
	peerFailuresToGiveUp = 2
)

// peerCheck is VerifyPeer's state for one member at one remote address.
type peerCheck struct {
	addr     string
	ok       bool
	failures int
	lastErr  error
}

// peerVerified reports whether m passed VerifyPeer at its current remote address. A member not
// checked yet (or at a new address) gets a check of its own; until it passes it is not placed.
func (n *Node) peerVerified(m Member) bool {
	if n.cfg.VerifyPeer == nil {
		return true
	}
	n.checksMu.Lock()
	defer n.checksMu.Unlock()
	c := n.checks[m.ID]
	if c != nil && c.addr == m.RemoteAddr {
		return c.ok
	}
	if n.checkCtx.Err() != nil {
		return false
	}
	c = &peerCheck{addr: m.RemoteAddr}
	n.checks[m.ID] = c
	n.checkWG.Add(1)
	go n.runPeerCheck(m, c)
	return false
}

// runPeerCheck checks m until it passes, its check is replaced (the member left or moved), or the
// node shuts down. Each result wakes the placement loop.
func (n *Node) runPeerCheck(m Member, c *peerCheck) {
	defer n.checkWG.Done()
	wait := peerRetryMin
	for {
		ctx, cancel := context.WithTimeout(n.checkCtx, peerCheckTimeout)
		err := n.cfg.VerifyPeer(ctx, m)
		cancel()
		if n.checkCtx.Err() != nil {
			return
		}
		n.checksMu.Lock()
		current := n.checks[m.ID] == c
		if current {
			c.ok, c.lastErr = err == nil, err
			if err != nil {
				c.failures++
			}
		}
		n.checksMu.Unlock()
		if !current {
			return
		}
		n.view.signal()
		if err == nil {
			n.log.Info("cluster: peer verified", "node", m.ID, "remote", m.RemoteAddr)
			return
		}
		n.log.Warn("cluster: peer failed verification; left out of placement", "node", m.ID, "remote", m.RemoteAddr, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-n.checkCtx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, peerRetryMax)
	}
}

// forgetChecks drops the checks of members no longer in the view, so that one that comes back is
// checked again.
func (n *Node) forgetChecks(live map[string]liveNode) {
	n.checksMu.Lock()
	defer n.checksMu.Unlock()
	for id := range n.checks {
		if _, ok := live[id]; !ok {
			delete(n.checks, id)
		}
	}
}

// awaitPeers waits until the placement holds BootstrapExpect members, and at least one peer when
// the node joined through Config.Join. It fails early when every peer seen has failed VerifyPeer
// peerFailuresToGiveUp times: then this node (or they) hold the wrong certificate, and waiting
// does not help.
func (n *Node) awaitPeers(ctx context.Context) error {
	want := n.cfg.BootstrapExpect
	if len(n.cfg.Join) > 0 {
		want = max(want, 2)
	}
	placements, unsubscribe := n.Subscribe()
	defer unsubscribe()
	tick := time.NewTicker(peerRetryMin)
	defer tick.Stop()
	for {
		if n.Placement().Len() >= want {
			return nil
		}
		if err := n.peersRefused(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %d of the %d nodes expected are placed: %w",
				ErrJoin, n.Placement().Len(), want, ctx.Err())
		case <-n.stop:
			return ErrShutdown
		case _, ok := <-placements:
			if !ok {
				return ErrShutdown
			}
		case <-tick.C:
		}
	}
}

// peersRefused returns an error wrapping ErrPeerRefused when peers were checked and every one of
// them failed enough times.
func (n *Node) peersRefused() error {
	n.checksMu.Lock()
	defer n.checksMu.Unlock()
	if len(n.checks) == 0 {
		return nil
	}
	var reasons []string
	for id, c := range n.checks {
		if c.ok || c.failures < peerFailuresToGiveUp {
			return nil
		}
		reasons = append(reasons, fmt.Sprintf("%s at %s: %v", id, c.addr, c.lastErr))
	}
	return fmt.Errorf("%w: no peer could be verified (%s)", ErrPeerRefused, strings.Join(reasons, "; "))
}
