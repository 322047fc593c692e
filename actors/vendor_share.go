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
// provider's QPS limit. A vendor's limit is its app's, whichever node sends: in a cluster
// each node sends the pushes of the shards it leads, so the daemon gives each node the
// fraction of the shards it leads, and the nodes together keep to the limit. A lone node
// keeps the whole limit (share 1, the default).
func (n *Node) SetVendorShare(share float64) {
	if !(share > 0) || share > 1 || math.IsNaN(share) {
		share = 1
	}
	for _, v := range n.vendorLimits {
		qps := v.qps * share
		v.l.SetLimit(rate.Limit(qps))
		v.l.SetBurst(qpsBurst(qps))
	}
}
