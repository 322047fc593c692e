package actors

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the actors' Prometheus series. NewMetrics registers them on the
// registry it is given (never the global one).
type Metrics struct {
	MessagesAccepted  *prometheus.CounterVec // by conversation kind
	MessagesDropped   *prometheus.CounterVec // by reason: retention_count, retention_age
	FramesDelivered   prometheus.Counter
	Pushes            *prometheus.CounterVec // by app, provider, verdict
	PushRetries       *prometheus.CounterVec // by provider
	PushesDeduped     prometheus.Counter     // jobs dropped because the device acked or the binding is gone
	PushesExpired     prometheus.Counter     // jobs dropped because their expiry passed before they could be sent
	OutboxRecovered   prometheus.Counter
	ActiveUsers       prometheus.Gauge     // user actors only
	ActiveActors      *prometheus.GaugeVec // by kind: user, group, call, token
	Sessions          prometheus.Gauge
	IdempotentReplays prometheus.Counter
	Unbound           *prometheus.CounterVec // by reason: token_invalid, moved, unregister, logout
	QuotaExhausted    *prometheus.CounterVec // by app, provider, class: times a class was held for the day
	PushesHeld        *prometheus.GaugeVec   // by app, provider: pushes waiting for the vendor's next day
	FanoutPending     prometheus.Gauge       // group fan-outs running on this node
	FanoutMembers     prometheus.Counter     // members handed a group message
	Calls             *prometheus.CounterVec // by event

	// VendorJobsInMemory and VendorCircuitOpen are by app, provider: the
	// pushes a vendor actor holds in memory (at most limits.vendor_window),
	// and 1 while its circuit breaker is open (or trying one push).
	VendorJobsInMemory *prometheus.GaugeVec
	VendorCircuitOpen  *prometheus.GaugeVec
}

// NewMetrics creates the series and registers them on reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		MessagesAccepted:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pushd_messages_accepted_total", Help: "Messages stored durably."}, []string{"kind"}),
		MessagesDropped:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pushd_messages_dropped_total", Help: "Stored messages removed by retention."}, []string{"reason"}),
		FramesDelivered:   prometheus.NewCounter(prometheus.CounterOpts{Name: "pushd_frames_delivered_total", Help: "Message frames handed to long connections."}),
		Pushes:            prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pushd_pushes_total", Help: "Vendor answers to pushes, by verdict."}, []string{"app", "provider", "verdict"}),
		PushRetries:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pushd_push_retries_total", Help: "Pushes scheduled again after a retry verdict."}, []string{"provider"}),
		PushesDeduped:     prometheus.NewCounter(prometheus.CounterOpts{Name: "pushd_pushes_skipped_total", Help: "Pushes not sent because the device acked in time or its binding is gone."}),
		PushesExpired:     prometheus.NewCounter(prometheus.CounterOpts{Name: "pushd_pushes_expired_total", Help: "Pushes dropped unsent because their expiry passed first (a long outage, a held quota, a restart)."}),
		OutboxRecovered:   prometheus.NewCounter(prometheus.CounterOpts{Name: "pushd_outbox_recovered_total", Help: "Pending pushes found in the outbox at start."}),
		ActiveUsers:       prometheus.NewGauge(prometheus.GaugeOpts{Name: "pushd_active_users", Help: "User actors alive on this node."}),
		ActiveActors:      prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "pushd_active_actors", Help: "User, group, call and token actors alive on this node, by kind."}, []string{"kind"}),
		Sessions:          prometheus.NewGauge(prometheus.GaugeOpts{Name: "pushd_sessions", Help: "Long connections open on this node."}),
		IdempotentReplays: prometheus.NewCounter(prometheus.CounterOpts{Name: "pushd_idempotent_replays_total", Help: "Sends answered from the idempotency index."}),
		Unbound:           prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pushd_bindings_removed_total", Help: "Bindings removed, by reason."}, []string{"reason"}),
		QuotaExhausted:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pushd_vendor_quota_exhausted_total", Help: "Times a vendor's daily quota ran out for a class of pushes."}, []string{"app", "provider", "class"}),
		PushesHeld:        prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "pushd_pushes_held", Help: "Pushes held until the vendor's next quota day."}, []string{"app", "provider"}),
		FanoutPending:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "pushd_fanout_pending", Help: "Group fan-outs running on this node."}),
		FanoutMembers:     prometheus.NewCounter(prometheus.CounterOpts{Name: "pushd_fanout_members_total", Help: "Members handed a group message."}),
		Calls:             prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pushd_call_events_total", Help: "Call invitation events, by type."}, []string{"event"}),

		VendorJobsInMemory: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "pushd_vendor_jobs_in_memory", Help: "Pushes a vendor actor holds in memory; the rest wait in the outbox."}, []string{"app", "provider"}),
		VendorCircuitOpen:  prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "pushd_vendor_circuit_open", Help: "1 while a vendor's circuit breaker is open: no pushes are sent but one trial."}, []string{"app", "provider"}),
	}
	if reg != nil {
		reg.MustRegister(m.MessagesAccepted, m.MessagesDropped, m.FramesDelivered, m.Pushes, m.PushRetries,
			m.PushesDeduped, m.PushesExpired, m.OutboxRecovered, m.ActiveUsers, m.ActiveActors, m.Sessions, m.IdempotentReplays, m.Unbound,
			m.QuotaExhausted, m.PushesHeld, m.FanoutPending, m.FanoutMembers, m.Calls, m.VendorJobsInMemory, m.VendorCircuitOpen)
	}
	return m
}
