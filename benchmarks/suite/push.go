package suite

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"time"

	"github.com/sideshow/apns2"
	"github.com/sideshow/apns2/token"
	"golang.org/x/net/http2"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/fcm"
	"github.com/pushd-im/pushd/push/vendors/xiaomi"
	"github.com/pushd-im/pushd/push/vendorsim"
)

// bareWorkers is the concurrency of the bare APNs and FCM client loops: 64
// goroutines over one HTTP/2 connection.
const bareWorkers = 64

// bareMinTime is the least time a bare loop runs: it repeats its calls until then.
const bareMinTime = time.Second

// runPush measures pushes per second from pushd to the simulator against a
// bare client loop to the same simulator, for APNs, FCM and Xiaomi (batched):
//
//   - APNs and FCM: one-to-one messages with a push_config to offline users
//     (server sends in batches of 500, 4 callers); the clock runs from the
//     first send to the last push the simulator records; the bodies are built
//     before it starts. The baseline is a bare apns2 client loop, and a plain
//     net/http HTTP/2 client posting FCM v1 bodies with an OAuth token from
//     the simulator's token endpoint, each 64 goroutines over one connection,
//     replaying the very requests pushd made for the same users (recorded by
//     the simulator before the rounds).
//   - Xiaomi: group messages to members with Xiaomi bindings (pushd batches
//     1,000 tokens a request); the baseline is the xiaomi client package
//     sending the same tokens in batches of 1,000 directly (8 goroutines),
//     with the same fields as pushd's requests.
//     Both are counted in pushes (tokens) per second.
//
// The latency of a pushd push is from its send request to its record at the
// simulator (under that saturating load); the baseline's is one request.
func runPush(ctx context.Context, e *env) error {
	perProvider := e.scaled(20_000, 1_000)
	users := min(1000, perProvider)
	groupSize := e.scaled(10_000, 2_000)
	const groupMessages = 20
	e.note("APNs and FCM: %d pushes each, one-to-one messages to %d offline users (batches of 500, 4 callers); bare loops: %d goroutines, one HTTP/2 connection", perProvider, users, bareWorkers)
	e.note("Xiaomi: %d group messages to a group of %d (%d members with Xiaomi bindings): %d pushes; bare loop: push/vendors/xiaomi, batches of %d, 8 goroutines",
		groupMessages, groupSize, groupSize-1, groupMessages*(groupSize-1), xiaomi.MaxBatch)
	e.note("APNs and FCM bare loops replay the requests pushd made for the same users, recorded by the simulator before the rounds: same headers (collapse id, expiration, priority, push type) and bodies; the Xiaomi bare loop sends the same fields as pushd's group pushes")
	e.note("pushd's send bodies are built before its clock starts and its answers are read after the last push, as the bare loops build their requests once")
	e.note("each bare loop repeats its calls until it has run at least %v", bareMinTime)
	e.note("each figure is measured in %d rounds of bare loop then pushd; the figures are the medians, the ratio the median of the rounds' ratios", rounds)
	e.note("pushd figures run from the first send to the last push recorded by the simulator; pushd latency = send request → push recorded, under that load")
	e.note("before each pushd round, one message to each user warms its actor and its binding's verdict (as on a daemon that has been running)")

	e.step("start daemon")
	n, err := startNode(ctx)
	if err != nil {
		return err
	}
	defer n.close()
	sim := n.sim()

	e.step("bind devices")
	var bs []binding
	apnsUsers, fcmUsers := make([]string, users), make([]string, users)
	for i := 0; i < users; i++ {
		apnsUsers[i], fcmUsers[i] = fmt.Sprintf("a%d", i), fmt.Sprintf("f%d", i)
		bs = append(bs, binding{apnsUsers[i], "iphone", push.APNs, providerToken(push.APNs, i)},
			binding{fcmUsers[i], "pixel", push.FCM, providerToken(push.FCM, i)})
	}
	members := []string{"xboss"}
	var xmTokens []string
	for i := 0; i < groupSize-1; i++ {
		u := fmt.Sprintf("x%d", i)
		members = append(members, u)
		xmTokens = append(xmTokens, providerToken(push.Xiaomi, i))
		bs = append(bs, binding{u, "mi", push.Xiaomi, xmTokens[i]})
	}
	if err := n.bindAll(ctx, e, bs); err != nil {
		return err
	}
	if err := putGroup(n, "xg", members); err != nil {
		return err
	}
	e.step("record pushd's requests")
	recorded, err := recordPushdRequests(ctx, e, n, map[push.Provider][]string{push.APNs: apnsUsers, push.FCM: fcmUsers})
	if err != nil {
		return err
	}

	figures := []struct {
		label string
		f     *Figure
		bare  func() (float64, []time.Duration, error)
		pushd func() (float64, []time.Duration, error)
	}{
		{"APNs", &Figure{Name: "APNs pushes, pushd → simulator", Unit: "push/s", Count: perProvider, BaselineName: "bare apns2 loop", Bar: ratioBar(0.8)},
			func() (float64, []time.Duration, error) { return bareAPNs(ctx, sim, recorded[push.APNs], perProvider) },
			func() (float64, []time.Duration, error) {
				return pushdOneToOne(ctx, e, n, push.APNs, apnsUsers, perProvider)
			}},
		{"FCM", &Figure{Name: "FCM pushes, pushd → simulator", Unit: "push/s", Count: perProvider, BaselineName: "bare net/http HTTP/2 loop", Bar: ratioBar(0.8)},
			func() (float64, []time.Duration, error) { return bareFCM(ctx, sim, recorded[push.FCM], perProvider) },
			func() (float64, []time.Duration, error) {
				return pushdOneToOne(ctx, e, n, push.FCM, fcmUsers, perProvider)
			}},
		{"Xiaomi", &Figure{Name: "Xiaomi pushes (tokens), batched, pushd → simulator", Unit: "push/s", Count: groupMessages * len(xmTokens), BaselineName: "bare xiaomi client, 1,000 a request", Bar: ratioBar(0.8)},
			func() (float64, []time.Duration, error) { return bareXiaomi(ctx, n, xmTokens, groupMessages) },
			func() (float64, []time.Duration, error) { return pushdXiaomi(ctx, e, n, groupMessages, len(xmTokens)) }},
	}
	for _, fig := range figures {
		if err := e.inRounds(fig.f, fig.label, fig.bare, fig.pushd); err != nil {
			return err
		}
	}
	return nil
}

// putGroup creates a group (in parts of at most 20,000 ids, to stay under the body limit).
func putGroup(n *node, group string, members []string) error {
	const part = 20_000
	for i := 0; i < len(members); i += part {
		method, path := "POST", "/v1/groups/"+group+"/members"
		if i == 0 {
			method, path = "PUT", "/v1/groups/"+group
		}
		b, _ := json.Marshal(map[string]any{"members": members[i:min(i+part, len(members))]})
		if _, err := n.must(method, path, "", b); err != nil {
			return err
		}
	}
	return nil
}

// waitPushes polls the simulator until provider p has count deliveries.
func waitPushes(ctx context.Context, e *env, sim *vendorsim.Sim, count int, timeout time.Duration, ps ...push.Provider) error {
	deadline := time.Now().Add(timeout)
	for {
		got := 0
		for _, p := range ps {
			got += sim.Count(p)
		}
		if got >= count {
			return nil
		}
		e.p.count(got, count)
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d pushes at the simulator after %v", got, count, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

// pushesHandled is how many vendor answers pushd has taken so far
// (pushd_pushes_total; 0 before the first, when the metric is not there yet).
func (n *node) pushesHandled() int {
	v, _ := n.metric("pushd_pushes_total")
	return int(v)
}

// waitPushesHandled waits until pushd has taken the vendor's answers to at
// least want pushes in all: a push recorded by the simulator is not yet
// handled by pushd (its verdict and outbox writes), and a measured window
// that starts after a warm-up must not share the daemon with those.
func (n *node) waitPushesHandled(ctx context.Context, want int) error {
	_, err := n.waitMetric(ctx, "pushd_pushes_total", time.Minute, func(v float64) bool { return int(v) >= want })
	return err
}

// pushMessageID reads the message_id pushd puts in a push's custom data.
func pushMessageID(r *vendorsim.Record) string {
	switch r.Provider {
	case push.APNs:
		var b struct {
			MessageID string `json:"message_id"`
		}
		_ = json.Unmarshal(r.Body, &b)
		return b.MessageID
	case push.FCM:
		var b struct {
			Message struct {
				Data map[string]string `json:"data"`
			} `json:"message"`
		}
		_ = json.Unmarshal(r.Body, &b)
		return b.Message.Data["message_id"]
	case push.Xiaomi:
		form, _ := url.ParseQuery(string(r.Body))
		return form.Get("extra.message_id")
	}
	return ""
}

// pushdOneToOne sends count one-to-one messages with a push_config to users
// (offline, each with one binding of p) and returns pushes/s from the first
// send to the last push, and each push's send → record latency.
func pushdOneToOne(ctx context.Context, e *env, n *node, p push.Provider, users []string, count int) (float64, []time.Duration, error) {
	sim := n.sim()
	body := func(from, to int) []byte {
		msgs := make([][]byte, 0, to-from)
		for i := from; i < to; i++ {
			msgs = append(msgs, messageJSON("sender", users[i%len(users)], "m"+strconv.Itoa(i), false, true))
		}
		return batchJSON(msgs)
	}
	// Warm up: the vendor connection and its credential, and one message to
	// every user, so that the measured window sees a running daemon (user
	// actors loaded, each binding's first verdict recorded), not the cold
	// start of 1,000 actors.
	warm := min(len(users), count)
	handled := n.pushesHandled()
	if _, err := n.must("POST", "/v1/messages/batch", "", body(0, warm)); err != nil {
		return 0, nil, err
	}
	if err := waitPushes(ctx, e, sim, warm, time.Minute, p); err != nil {
		return 0, nil, err
	}
	if err := n.waitPushesHandled(ctx, handled+warm); err != nil {
		return 0, nil, err
	}
	sim.Reset()

	// The load is built before the clock starts and the answers are read
	// after the last push, as the bare loops build their payload once: the
	// window holds pushd's work and the HTTP calls, not the generator's JSON.
	const per = 500
	calls := (count + per - 1) / per
	bodies := make([][]byte, calls)
	for c := range bodies {
		bodies[c] = body(c*per, min((c+1)*per, count))
	}
	answers, sentAt := make([][]byte, calls), make([]time.Time, calls)
	stop := e.profile(string(p))
	defer stop()
	start := time.Now()
	err := parallel(ctx, calls, 4, func(c int) error {
		sentAt[c] = time.Now()
		var err error
		answers[c], err = n.must("POST", "/v1/messages/batch", "", bodies[c])
		return err
	}, nil)
	if err != nil {
		return 0, nil, err
	}
	if err := waitPushes(ctx, e, sim, count, 5*time.Minute, p); err != nil {
		return 0, nil, err
	}
	stop()
	sent := make(map[string]time.Time, count)
	for c, b := range answers {
		ids, err := sendAnswers(b)
		if err != nil {
			return 0, nil, err
		}
		for _, id := range ids {
			sent[id] = sentAt[c]
		}
	}
	var lat []time.Duration
	last := start
	for _, r := range sim.Records(p) {
		if !r.Delivered("") {
			continue
		}
		if r.At.After(last) {
			last = r.At
		}
		if t, ok := sent[pushMessageID(&r)]; ok {
			lat = append(lat, r.At.Sub(t))
		}
	}
	return float64(count) / last.Sub(start).Seconds(), lat, nil
}

// pushdXiaomi sends messages group messages to "xg" (members members with a
// Xiaomi binding each) and returns pushes (tokens)/s from the first send to
// the last push, and each token's send → record latency.
func pushdXiaomi(ctx context.Context, e *env, n *node, messages, members int) (float64, []time.Duration, error) {
	sim := n.sim()
	send := func(i int) (string, error) {
		b, err := n.must("POST", "/v1/messages", "", messageJSON("xboss", "xg", "g"+strconv.Itoa(i), true, true))
		if err != nil {
			return "", err
		}
		var a sendAnswer
		if err := json.Unmarshal(b, &a); err != nil {
			return "", err
		}
		return a.MessageID, nil
	}
	// Warm up with one group message.
	handled := n.pushesHandled()
	if _, err := send(-1); err != nil {
		return 0, nil, err
	}
	if err := waitPushes(ctx, e, sim, members, 2*time.Minute, push.Xiaomi); err != nil {
		return 0, nil, err
	}
	if err := n.waitPushesHandled(ctx, handled+members); err != nil {
		return 0, nil, err
	}
	sim.Reset()

	sentAt := map[string]time.Time{}
	stop := e.profile("xiaomi-batched")
	defer stop()
	start := time.Now()
	for i := 0; i < messages; i++ {
		t := time.Now()
		id, err := send(i)
		if err != nil {
			return 0, nil, err
		}
		sentAt[id] = t
	}
	total := messages * members
	if err := waitPushes(ctx, e, sim, total, 5*time.Minute, push.Xiaomi); err != nil {
		return 0, nil, err
	}
	stop()
	var lat []time.Duration
	last := start
	for _, r := range sim.Records(push.Xiaomi) {
		if !r.Delivered("") {
			continue
		}
		if r.At.After(last) {
			last = r.At
		}
		if t, ok := sentAt[pushMessageID(&r)]; ok {
			for range len(r.Tokens) - len(r.InvalidTokens) {
				lat = append(lat, r.At.Sub(t))
			}
		}
	}
	return float64(total) / last.Sub(start).Seconds(), lat, nil
}

// recordPushdRequests sends one message with a push_config to every user of
// users (offline, one binding each) and returns, per provider, the requests
// pushd made for them as the simulator recorded them (headers and body). The
// bare loops replay exactly these, so that a ratio compares pushd with a
// client sending the same pushes, not lighter ones: pushd's pushes carry the
// collapse id, expiry and the message's custom data, which the vendor (here
// the simulator) has to read as well.
func recordPushdRequests(ctx context.Context, e *env, n *node, users map[push.Provider][]string) (map[push.Provider][]vendorsim.Record, error) {
	sim := n.sim()
	handled := n.pushesHandled()
	var msgs [][]byte
	var ps []push.Provider
	for p, us := range users {
		ps = append(ps, p)
		for i, u := range us {
			msgs = append(msgs, messageJSON("sender", u, "r"+strconv.Itoa(i), false, true))
		}
	}
	const per = 500
	for i := 0; i < len(msgs); i += per {
		b, err := n.must("POST", "/v1/messages/batch", "", batchJSON(msgs[i:min(i+per, len(msgs))]))
		if err != nil {
			return nil, err
		}
		if _, err := sendAnswers(b); err != nil {
			return nil, err
		}
	}
	if err := waitPushes(ctx, e, sim, len(msgs), time.Minute, ps...); err != nil {
		return nil, err
	}
	if err := n.waitPushesHandled(ctx, handled+len(msgs)); err != nil {
		return nil, err
	}
	out := map[push.Provider][]vendorsim.Record{}
	for _, p := range ps {
		for _, r := range sim.Records(p) {
			if r.Delivered("") {
				out[p] = append(out[p], r)
			}
		}
		if len(out[p]) != len(users[p]) {
			return nil, fmt.Errorf("%d %s pushes recorded for %d users", len(out[p]), p, len(users[p]))
		}
	}
	sim.Reset()
	return out, nil
}

// apnsNotification is the apns2 notification that makes the same request as
// the recorded one r: token, headers and payload.
func apnsNotification(r vendorsim.Record) (*apns2.Notification, error) {
	h := r.Headers
	nt := &apns2.Notification{DeviceToken: r.Token, Topic: h["apns-topic"], Payload: r.Body, ApnsID: h["apns-id"],
		CollapseID: h["apns-collapse-id"], PushType: apns2.EPushType(h["apns-push-type"])}
	if v := h["apns-priority"]; v != "" {
		p, err := strconv.Atoi(v)
		if err != nil {
			return nil, fmt.Errorf("recorded apns-priority %q: %w", v, err)
		}
		nt.Priority = p
	}
	if v := h["apns-expiration"]; v != "" {
		sec, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("recorded apns-expiration %q: %w", v, err)
		}
		nt.Expiration = time.Unix(sec, 0)
	}
	return nt, nil
}

// bareAPNs sends count pushes with a plain apns2 client (configured like a
// default one, pointed at the simulator), replaying the recorded requests
// (see recordPushdRequests) round-robin.
func bareAPNs(ctx context.Context, sim *vendorsim.Sim, recorded []vendorsim.Record, count int) (float64, []time.Duration, error) {
	creds := sim.Credentials()
	key, err := token.AuthKeyFromBytes(creds.APNs.KeyPEM)
	if err != nil {
		return 0, nil, err
	}
	pool, err := creds.CAPool()
	if err != nil {
		return 0, nil, err
	}
	c := apns2.NewTokenClient(&token.Token{AuthKey: key, KeyID: creds.APNs.KeyID, TeamID: creds.APNs.TeamID})
	c.Host = sim.Endpoint(push.APNs)
	c.HTTPClient.Transport = &http2.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	notes := make([]*apns2.Notification, len(recorded))
	for i, r := range recorded {
		if notes[i], err = apnsNotification(r); err != nil {
			return 0, nil, err
		}
	}
	one := func(i int) error {
		res, err := c.PushWithContext(ctx, notes[i%len(notes)])
		if err != nil {
			return err
		}
		if res.StatusCode != 200 {
			return fmt.Errorf("status %d %s", res.StatusCode, res.Reason)
		}
		return nil
	}
	return bareLoop(ctx, sim, count, bareWorkers, one)
}

// bareLoop warms up with one call, then runs count calls on workers
// goroutines, again until at least bareMinTime has passed (so that a quick
// run still measures a steady rate), and returns calls/s and each call's
// latency.
func bareLoop(ctx context.Context, sim *vendorsim.Sim, count, workers int, one func(i int) error) (float64, []time.Duration, error) {
	defer sim.Reset()
	if err := one(0); err != nil {
		return 0, nil, err
	}
	var lat []time.Duration
	calls := 0
	start := time.Now()
	for round := 0; round == 0 || (time.Since(start) < bareMinTime && round < 50); round++ {
		l := make([]time.Duration, count)
		err := parallel(ctx, count, workers, func(i int) error {
			t := time.Now()
			err := one(i)
			l[i] = time.Since(t)
			return err
		}, nil)
		if err != nil {
			return 0, nil, err
		}
		lat = append(lat, l...)
		calls += count
	}
	return float64(calls) / time.Since(start).Seconds(), lat, nil
}

// bareFCM sends count FCM v1 messages with a plain HTTP/2 client and an OAuth
// access token from the simulator's token endpoint (the service-account JWT
// grant, as golang.org/x/oauth2/google makes it), replaying the recorded
// request bodies (see recordPushdRequests) round-robin.
func bareFCM(ctx context.Context, sim *vendorsim.Sim, recorded []vendorsim.Record, count int) (float64, []time.Duration, error) {
	creds := sim.Credentials()
	pool, err := creds.CAPool()
	if err != nil {
		return 0, nil, err
	}
	hc := &http.Client{Transport: &http2.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 30 * time.Second}
	gc, err := google.CredentialsFromJSONWithTypeAndParams(context.WithValue(ctx, oauth2.HTTPClient, hc),
		creds.ServiceAccountJSON(sim.AuthEndpoint(push.FCM)), google.ServiceAccount, google.CredentialsParams{Scopes: []string{fcm.Scope}})
	if err != nil {
		return 0, nil, err
	}
	tok, err := gc.TokenSource.Token()
	if err != nil {
		return 0, nil, fmt.Errorf("access token: %w", err)
	}
	sendURL := sim.Endpoint(push.FCM) + "/v1/projects/" + url.PathEscape(creds.FCM.ProjectID) + "/messages:send"
	one := func(i int) error {
		r := &recorded[i%len(recorded)]
		req, err := http.NewRequestWithContext(ctx, "POST", sendURL, bytes.NewReader(r.Body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		req.Header.Set("Content-Type", r.Headers["content-type"])
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d %s", resp.StatusCode, trunc(answer, 200))
		}
		return nil
	}
	return bareLoop(ctx, sim, count, bareWorkers, one)
}

// bareXiaomi sends every token messages times with the xiaomi client, 1,000
// tokens a request, 8 requests at once, with the fields pushd sends for a
// group message (custom data, collapse id, expiry); it returns tokens/s and
// each request's latency.
func bareXiaomi(ctx context.Context, n *node, tokens []string, messages int) (float64, []time.Duration, error) {
	sim := n.sim()
	creds := sim.Credentials()
	c, err := xiaomi.New(xiaomi.Options{AppSecret: creds.Xiaomi.AppSecret, PackageName: creds.Xiaomi.PackageName,
		Endpoint: sim.Endpoint(push.Xiaomi), ChannelID: vendorsim.XiaomiPrivateChannelID,
		CAFile: filepath.Join(n.simDir(), vendorsim.FileCACert), Timeout: 30 * time.Second})
	if err != nil {
		return 0, nil, err
	}
	defer c.Close()
	parts := (len(tokens) + xiaomi.MaxBatch - 1) / xiaomi.MaxBatch
	one := func(i int) error {
		k := i % parts
		id := "bare" + strconv.Itoa(i/parts)
		res := c.Send(ctx, &push.Notification{ID: id, CollapseID: id, App: "demo", Provider: push.Xiaomi,
			Tokens: tokens[k*xiaomi.MaxBatch : min((k+1)*xiaomi.MaxBatch, len(tokens))], Title: "bench", Body: "new message",
			Priority: push.PriorityHigh, Expiration: time.Now().Add(24 * time.Hour),
			Data: map[string]string{"message_id": id, "sender": "xboss", "seq": strconv.Itoa(i / parts), "stream": "group:xg"}})
		if res.Verdict != push.Delivered {
			return fmt.Errorf("verdict %s %d %s", res.Verdict, res.Status, res.Reason)
		}
		return nil
	}
	requests := messages * parts
	rate, lat, err := bareLoop(ctx, sim, requests, 8, one)
	// rate is requests/s; count tokens.
	return rate * float64(len(tokens)) / float64(parts), lat, err
}
