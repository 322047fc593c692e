package actors

import (
	"math"

	"golang.org/x/time/rate"
)

// vendorLimit is one vendor actor's limiter and the provider's QPS it was made for.
type vendorLimit struct {
	l   *rate.Limiter
	qps float64
}

// qpsBurst is the burst of a limiter of qps: a tenth of a second's sends, at least one.
func qpsBurst(qps float64) int { return max(1, int(qps/10)) }

// SetVendorShare keeps this node's vendor actors to share (0 < share <= 1) of each
// provider's QPS limit and daily quota. A vendor's limits are its app's, whichever node
// sends: in a cluster each node sends the pushes of the shards it leads, so the daemon
// gives each node the fraction of the shards it leads, and the nodes together keep to the
// limits. A lone node keeps the whole (share 1, the default).
func (n *Node) SetVendorShare(share float64) {
	if !(share > 0) || share > 1 || math.IsNaN(share) {
		share = 1
	}
	n.share.Store(math.Float64bits(share))
	for _, v := range n.vendorLimits {
		qps := v.qps * share
		v.l.SetLimit(rate.Limit(qps))
		v.l.SetBurst(qpsBurst(qps))
	}
}

// vendorShare is the share SetVendorShare last set; 1 before.
func (n *Node) vendorShare() float64 {
	if b := n.share.Load(); b != 0 {
		return math.Float64frombits(b)
	}
	return 1
}
