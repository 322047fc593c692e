package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/pushd-im/pushd/storage"
)

// codeUnknownMessage: no trace of the message (never sent in this app, or older than the retention).
const codeUnknownMessage = "unknown_message"

// traceEvent is one event of GET /v1/messages/{message_id}/trace.
type traceEvent struct {
	At       int64  `json:"at"` // unix ms
	Event    string `json:"event"`
	User     string `json:"user_id,omitempty"`
	Device   string `json:"device_id,omitempty"`
	PushID   string `json:"push_id,omitempty"`
	Provider string `json:"provider,omitempty"`
	Verdict  string `json:"verdict,omitempty"`
	// Reason is the vendor's (scrubbed) reason, or why nothing was sent (skipped).
	Reason  string `json:"reason,omitempty"`
	Attempt int    `json:"attempt,omitempty"`
	// Until: a push job waits for the device's ack until then; a held or retried push goes again then.
	Until int64 `json:"until,omitempty"`
	// Group and Receivers: a group message's fan-out.
	Group     string `json:"group_id,omitempty"`
	Receivers int    `json:"receivers,omitempty"`
}

func traceEventOf(e storage.TraceEvent) traceEvent {
	t := traceEvent{At: e.AtMs, Event: e.Kind.String(), User: e.User, Device: e.Device, PushID: e.PushID,
		Provider: e.Provider, Verdict: e.Verdict, Reason: e.Detail, Attempt: e.Attempt, Until: e.UntilMs}
	if e.Kind == storage.TraceFanout {
		t.Group, t.Receivers, t.Reason = e.Detail, e.Count, ""
	}
	return t
}

// traceDevice is one receiving device (or, for a skip that names no device, one user) and what
// happened to it, in time order.
type traceDevice struct {
	User    string       `json:"user_id"`
	Device  string       `json:"device_id,omitempty"`
	Outcome string       `json:"outcome"`
	Events  []traceEvent `json:"events"`
}

// traceDevicesShown is how many devices a trace lists without ?user=: a large group's
// fan-out is given as counts, and one member's devices on request.
const traceDevicesShown = 200

// messageTrace is GET /v1/messages/{message_id}/trace[?user=U]: for each receiving device, what
// pushd decided and what happened, in time order; counts of the devices by outcome. In a
// cluster the node asks every other member for the records of the shards it holds and merges
// them (the same record read from two replicas once).
func (s *Server) messageTrace(ctx *fasthttp.RequestCtx, c *caller) *apiError {
	rest := strings.TrimPrefix(string(ctx.Path()), "/v1/messages/")
	id, ok := strings.CutSuffix(rest, "/trace")
	if !ok || id == "" || strings.Contains(id, "/") || len(id) > 64 {
		return badField("message_id", "the path must be /v1/messages/<message_id>/trace")
	}
	user := string(ctx.QueryArgs().Peek("user"))
	if user != "" {
		if e := checkID("user", user, maxUserID); e != nil {
			return e
		}
	}
	nodeOnly := string(ctx.QueryArgs().Peek("scope")) == "node"
	evs, err := s.o.Node.Trace(c.app.ID, id)
	if err != nil && !errors.Is(err, storage.ErrTraceNotFound) {
		return s.fromActorError(err)
	}
	if nodeOnly {
		// A peer's share of a cluster-wide trace: the records this node holds, as they are.
		out := make([]traceEvent, 0, len(evs))
		for _, e := range evs {
			out = append(out, traceEventOf(e))
		}
		writeJSON(ctx, http.StatusOK, map[string]any{"events": out})
		return nil
	}
	all := make([]traceEvent, 0, len(evs))
	for _, e := range evs {
		all = append(all, traceEventOf(e))
	}
	complete := true
	if s.o.Peers != nil {
		peers := s.o.Peers()
		more, missing := s.peerTraces(peers, id, string(ctx.Request.Header.Peek("X-API-Key")))
		all = append(all, more...)
		complete = len(missing) == 0
		if !complete {
			s.log.Warn("message trace: members did not answer", "message_id", id, "members", missing)
		}
	}
	all = dedupeTrace(all)
	if len(all) == 0 {
		return &apiError{Status: http.StatusNotFound, Code: codeUnknownMessage,
			Message: "no trace of message " + id + " in app " + c.app.ID + ": it was never sent here, or it is older than the retention (offline_retention)"}
	}
	writeJSON(ctx, http.StatusOK, buildTrace(id, all, user, complete))
	return nil
}

// peerTraces asks each of the other members (their API addresses) for the records it holds,
// with the caller's API key; it returns what came back and the members that did not answer.
func (s *Server) peerTraces(peers []string, id, apiKey string) ([]traceEvent, []string) {
	bodies, missing := s.askPeers(peers, "/v1/messages/"+url.PathEscape(id)+"/trace?scope=node", apiKey)
	var out []traceEvent
	for addr, b := range bodies {
		var body struct {
			Events []traceEvent `json:"events"`
		}
		if err := json.Unmarshal(b, &body); err != nil {
			missing = append(missing, addr)
			continue
		}
		out = append(out, body.Events...)
	}
	return out, missing
}

// dedupeTrace sorts events by time (stable) and drops identical ones: replicas of a shard hold
// the same records, and a push's "not acked" is said with each of its first answers.
func dedupeTrace(evs []traceEvent) []traceEvent {
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].At < evs[j].At })
	seen := make(map[traceEvent]bool, len(evs))
	out := evs[:0]
	for _, e := range evs {
		if seen[e] {
			continue
		}
		seen[e] = true
		out = append(out, e)
	}
	return out
}

// buildTrace groups the events by device and counts the devices by outcome.
func buildTrace(id string, evs []traceEvent, user string, complete bool) map[string]any {
	type devKey struct{ user, device string }
	byDev := map[devKey]*traceDevice{}
	var order []devKey
	var group *traceEvent
	for _, e := range evs {
		if e.Event == storage.TraceFanout.String() {
			g := e
			group = &g
			continue
		}
		k := devKey{e.User, e.Device}
		d := byDev[k]
		if d == nil {
			d = &traceDevice{User: e.User, Device: e.Device}
			byDev[k] = d
			order = append(order, k)
		}
		d.Events = append(d.Events, e)
	}
	counts := map[string]int{}
	devices := make([]*traceDevice, 0, len(order))
	for _, k := range order {
		d := byDev[k]
		d.Outcome = outcomeOf(d.Events)
		counts[d.Outcome]++
		if user == "" || d.User == user {
			devices = append(devices, d)
		}
	}
	sort.SliceStable(devices, func(i, j int) bool {
		if devices[i].User != devices[j].User {
			return devices[i].User < devices[j].User
		}
		return devices[i].Device < devices[j].Device
	})
	out := map[string]any{"message_id": id, "complete": complete, "counts": counts, "device_count": len(order)}
	if group != nil {
		out["group"] = map[string]any{"group_id": group.Group, "from": group.User, "receivers": group.Receivers, "at": group.At}
	}
	if user != "" {
		out["user_id"] = user
	}
	if user == "" && len(devices) > traceDevicesShown {
		out["devices"] = []*traceDevice{}
		out["devices_omitted"] = len(devices)
	} else {
		out["devices"] = devices
	}
	return out
}

// outcomeOf is where a device's story ended: the last thing that decided it.
func outcomeOf(evs []traceEvent) string {
	outcome := ""
	for _, e := range evs {
		switch e.Event {
		case "frame_sent":
			if outcome == "" {
				outcome = "frame_sent"
			}
		case "push_job":
			if e.Until != 0 {
				outcome = "waiting_for_ack"
			} else {
				outcome = "push_pending"
			}
		case "acked":
			outcome = "acked"
		case "not_acked":
			outcome = "push_pending"
		case "vendor_attempt":
			outcome = e.Verdict
			if e.Verdict == "retry" {
				outcome = "retrying"
			}
		case "quota_held":
			outcome = "quota_held"
		case "expired":
			outcome = "expired"
		case "skipped":
			outcome = "skipped:" + e.Reason
		}
	}
	return outcome
}
