package api

import (
	"context"
	"embed"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/pushd-im/pushd/wire"
)

// The web console (GET /console/): plain HTML, CSS and JavaScript embedded in
// the binary, served as they are. The page asks for the API key once, keeps
// it in the tab's sessionStorage and calls the JSON routes with it, so the
// assets themselves need no credentials.

//go:embed console
var consoleFiles embed.FS

// consoleCSP keeps the page to its own scripts and styles and to this
// server: the API key it holds can go nowhere else.
const consoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// serveConsole serves /console/ and its assets.
func (s *Server) serveConsole(ctx *fasthttp.RequestCtx, method, p string) {
	if method != "GET" && method != "HEAD" {
		ctx.Response.Header.Set("Allow", "GET")
		writeError(ctx, &apiError{Status: http.StatusMethodNotAllowed, Code: codeBadMethod, Message: p + " takes GET, not " + method})
		return
	}
	if p == "/console" {
		ctx.Redirect("/console/", http.StatusMovedPermanently)
		return
	}
	name := strings.TrimPrefix(p, "/console/")
	if name == "" {
		name = "index.html"
	}
	b, err := fs.ReadFile(consoleFiles, path.Join("console", path.Clean("/" + name)[1:]))
	if err != nil {
		writeError(ctx, &apiError{Status: http.StatusNotFound, Code: codeNotFound, Message: "no console file " + name})
		return
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	ctx.SetContentType(ct)
	ctx.Response.Header.Set("Content-Security-Policy", consoleCSP)
	ctx.Response.Header.Set("X-Content-Type-Options", "nosniff")
	ctx.Response.Header.Set("Referrer-Policy", "no-referrer")
	ctx.Response.Header.Set("Cache-Control", "no-cache")
	ctx.SetBody(b)
}

// providerOverview is one provider of GET /v1/overview.
type providerOverview struct {
	Provider string `json:"provider"`
	// Pushes counts the vendor answers by verdict since the node started.
	Pushes map[string]uint64 `json:"pushes"`
	// Held is how many pushes wait for the vendor's next quota day.
	Held uint64 `json:"held"`
	// RetriesScheduled counts the pushes scheduled again after a retry
	// verdict since the node started (all apps: the series has no app).
	RetriesScheduled uint64 `json:"retries_scheduled"`
	// Pending and Retrying are the app's jobs in this node's outbox; Retrying
	// are those tried at least once (the retry backlog).
	Pending  int `json:"pending"`
	Retrying int `json:"retrying"`
	// JobsInMemory are the pushes the vendor connection holds in memory on
	// this node (at most limits.vendor_window; the rest wait in the outbox);
	// CircuitOpen is true while its circuit breaker holds sends back.
	JobsInMemory uint64 `json:"jobs_in_memory"`
	CircuitOpen  bool   `json:"circuit_open"`
}

// overviewOutboxLimit bounds the outbox jobs one overview reads.
const overviewOutboxLimit = 100_000

// overview is GET /v1/overview: the app's configured providers with their
// pushes by verdict, held quota and retry backlog, from this node's metrics
// and outbox.
func (s *Server) overview(ctx *fasthttp.RequestCtx, c *caller) *apiError {
	byProvider := map[string]*providerOverview{}
	get := func(p string) *providerOverview {
		o := byProvider[p]
		if o == nil {
			o = &providerOverview{Provider: p, Pushes: map[string]uint64{}}
			byProvider[p] = o
		}
		return o
	}
	configured := s.o.Node.AppProviders(c.app.ID)
	for _, p := range configured {
		get(p)
	}
	if s.o.Gatherer != nil {
		mfs, err := s.o.Gatherer.Gather()
		if err != nil {
			return &apiError{Status: http.StatusInternalServerError, Code: codeInternal, Message: "reading the metrics: " + err.Error()}
		}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				l := map[string]string{}
				for _, lp := range m.GetLabel() {
					l[lp.GetName()] = lp.GetValue()
				}
				switch mf.GetName() {
				case "pushd_pushes_total":
					if l["app"] == c.app.ID {
						get(l["provider"]).Pushes[l["verdict"]] += uint64(m.GetCounter().GetValue())
					}
				case "pushd_pushes_held":
					if l["app"] == c.app.ID {
						get(l["provider"]).Held += uint64(m.GetGauge().GetValue())
					}
				case "pushd_vendor_jobs_in_memory":
					if l["app"] == c.app.ID {
						get(l["provider"]).JobsInMemory += uint64(m.GetGauge().GetValue())
					}
				case "pushd_vendor_circuit_open":
					if l["app"] == c.app.ID && m.GetGauge().GetValue() > 0 {
						get(l["provider"]).CircuitOpen = true
					}
				case "pushd_push_retries_total":
					if o := byProvider[l["provider"]]; o != nil {
						o.RetriesScheduled += uint64(m.GetCounter().GetValue())
					}
				}
			}
		}
	}
	backlog, complete, err := s.o.Node.OutboxBacklog(c.app.ID, overviewOutboxLimit)
	if err != nil {
		return s.fromActorError(err)
	}
	for p, b := range backlog {
		o := get(p)
		o.Pending, o.Retrying = b.Pending, b.Retrying
	}
	out := make([]*providerOverview, 0, len(byProvider))
	for _, o := range byProvider {
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Provider < out[j].Provider })
	writeJSON(ctx, http.StatusOK, map[string]any{
		"app": c.app.ID, "node": s.o.Node.Address(), "configured": configured, "providers": out,
		"outbox_complete": complete, "resources": sortedKeys(c.app.Resources),
	})
	return nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// streamMessage is one message of GET /v1/users/{user_id}/streams.
type streamMessage struct {
	Seq              uint64 `json:"seq"`
	MessageID        string `json:"message_id"`
	From             string `json:"from"`
	To               string `json:"to"`
	ConversationType int32  `json:"conversation_type"`
	Type             int32  `json:"type"`
	Body             string `json:"body"`
	Timestamp        int64  `json:"timestamp"`
	Pushed           bool   `json:"has_push_config"`
	Event            string `json:"event,omitempty"`
}

// streamsLimitMax bounds the messages per stream one lookup shows.
const streamsLimitMax = 200

// userStreams is GET /v1/users/{user_id}/streams?limit=N: the user's inbox
// and group streams (those its devices have cursors in) with their last N
// messages (default 20), and each device's cursor in each stream.
func (s *Server) userStreams(ctx *fasthttp.RequestCtx, c *caller) *apiError {
	user, _, e := pathUser(ctx)
	if e != nil {
		return e
	}
	limit := 20
	if v := ctx.QueryArgs().Peek("limit"); len(v) > 0 {
		n, err := strconv.Atoi(string(v))
		if err != nil || n < 0 || n > streamsLimitMax {
			return badField("limit", "must be 0 to %d", streamsLimitMax)
		}
		limit = n
	}
	if s.o.OwnerAPI != nil && string(ctx.QueryArgs().Peek("scope")) != "node" {
		if base := s.o.OwnerAPI(c.app.ID, user); base != "" {
			return s.askOwner(ctx, base, "/v1/users/"+url.PathEscape(user)+"/streams?scope=node&limit="+strconv.Itoa(limit))
		}
	}
	views, cursors, err := s.o.Node.UserStreams(c.app.ID, user, limit)
	if err != nil {
		return s.fromActorError(err)
	}
	streams := make([]map[string]any, 0, len(views))
	for _, v := range views {
		msgs := make([]streamMessage, 0, len(v.Recent))
		for i := len(v.Recent) - 1; i >= 0; i-- { // newest first
			msgs = append(msgs, messageView(v.Recent[i]))
		}
		streams = append(streams, map[string]any{"stream": v.Stream, "first_seq": v.FirstSeq, "last_seq": v.LastSeq, "messages": msgs})
	}
	writeJSON(ctx, http.StatusOK, map[string]any{"user_id": user, "streams": streams, "cursors": cursors})
	return nil
}

// askOwner answers a read with the owner member's answer to the same GET (pathQuery, marked
// scope=node so that it is not passed on again), made with the caller's API key: a user's
// streams and cursors live on the node that owns the user.
func (s *Server) askOwner(ctx *fasthttp.RequestCtx, base, pathQuery string) *apiError {
	rctx, cancel := context.WithTimeout(context.Background(), s.o.RequestTimeout)
	defer cancel()
	resp, body, err := getMember(rctx, base+pathQuery, string(ctx.Request.Header.Peek("X-API-Key")), maxOwnerAnswer)
	if err != nil {
		return &apiError{Status: http.StatusServiceUnavailable, Code: codeUnavailable, Message: "the node that owns the user did not answer: " + err.Error()}
	}
	ctx.SetStatusCode(resp.StatusCode)
	ctx.SetContentType(resp.Header.Get("Content-Type"))
	ctx.SetBody(body)
	return nil
}

// maxOwnerAnswer bounds what askOwner reads of a member's answer.
const maxOwnerAnswer = 16 << 20

// maxShownBody bounds the body a lookup shows of each message.
const maxShownBody = 512

func messageView(m *wire.Message) streamMessage {
	body := m.Body
	if len(body) > maxShownBody {
		body = strings.ToValidUTF8(body[:maxShownBody], "") + "…"
	}
	return streamMessage{Seq: m.Seq, MessageID: m.MessageId, From: m.From, To: m.To, ConversationType: m.ConversationType,
		Type: m.Type, Body: body, Timestamp: m.TimestampMs, Pushed: m.PushConfig != nil, Event: m.Event}
}
