package vendorsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pushd-im/pushd/push"
)

// xiaomiForm is a valid notification to ids, with edits applied.
func xiaomiForm(s *Sim, ids []string, edit func(url.Values)) url.Values {
	f := url.Values{
		"registration_id":         {strings.Join(ids, ",")},
		"restricted_package_name": {s.Credentials().Xiaomi.PackageName},
		"pass_through":            {"0"},
		"title":                   {"Alice"},
		"description":             {"hi there"},
		"payload":                 {`{"m":1}`},
		"notify_type":             {"-1"},
		"notify_id":               {"42"},
		"time_to_live":            {"3600000"},
		"extra.channel_id":        {XiaomiPrivateChannelID},
		"extra.message_id":        {"m1"},
	}
	if edit != nil {
		edit(f)
	}
	return f
}

func xiaomiPost(t *testing.T, hc *http.Client, s *Sim, key string, form url.Values) reply {
	t.Helper()
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded;charset=UTF-8"}}
	if key != "" {
		h.Set("Authorization", "key="+key)
	}
	return do(t, hc, http.MethodPost, s.Endpoint(push.Xiaomi)+"/v3/message/regid", h, []byte(form.Encode()))
}

// xiaomiAnswer is a MiPush answer body.
type xiaomiAnswer struct {
	Result      string `json:"result"`
	Code        int    `json:"code"`
	Reason      string `json:"reason"`
	Description string `json:"description"`
	Info        string `json:"info"`
	TraceID     string `json:"trace_id"`
	Data        struct {
		ID        string `json:"id"`
		BadRegIDs string `json:"bad_regids"`
	} `json:"data"`
}

// checkXiaomi decodes r, checking the wire status and the code.
func checkXiaomi(t *testing.T, r reply, status, code int) xiaomiAnswer {
	t.Helper()
	var a xiaomiAnswer
	if err := json.Unmarshal(r.body, &a); err != nil {
		t.Fatalf("answer %q is not JSON: %v", r.body, err)
	}
	if r.status != status || a.Code != code {
		t.Fatalf("answer = HTTP %d %s, want HTTP %d code %d", r.status, r.body, status, code)
	}
	wantResult := "error"
	if code == 0 {
		wantResult = "ok"
	}
	if a.Result != wantResult || !strings.HasPrefix(a.TraceID, "Xcm") {
		t.Fatalf("answer %s: want result %q and a trace_id", r.body, wantResult)
	}
	return a
}

func TestXiaomiSend(t *testing.T) {
	s := startSim(t, Options{})
	hc := client(t, s, true) // the Java and PHP SDKs speak HTTP/1.1
	key := s.Credentials().Xiaomi.AppSecret

	a := checkXiaomi(t, xiaomiPost(t, hc, s, key, xiaomiForm(s, []string{"rid-1"}, nil)), 200, 0)
	if !strings.HasPrefix(a.Data.ID, "slm") || a.Data.BadRegIDs != "" || a.Description != "成功" {
		t.Fatalf("answer %+v", a)
	}
	rec := lastRecord(t, s, push.Xiaomi)
	if rec.Path != "/v3/message/regid" || rec.Token != "rid-1" || !slices.Equal(rec.Tokens, []string{"rid-1"}) ||
		rec.Status != 200 || rec.Reason != "" || rec.Headers["authorization"] != "key="+key {
		t.Fatalf("record %+v", rec)
	}
	if len(s.Delivered(push.Xiaomi, "rid-1")) != 1 || s.Count(push.Xiaomi) != 1 {
		t.Fatalf("Delivered/Count = %d/%d, want 1/1", len(s.Delivered(push.Xiaomi, "rid-1")), s.Count(push.Xiaomi))
	}

	// A pass-through message needs no title or description; /v2 is served too.
	form := xiaomiForm(s, []string{"rid-2"}, func(f url.Values) {
		f.Set("pass_through", "1")
		f.Del("title")
		f.Del("description")
	})
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Authorization": {"key=" + key}}
	checkXiaomi(t, do(t, hc, http.MethodPost, s.Endpoint(push.Xiaomi)+"/v2/message/regid", h, []byte(form.Encode())), 200, 0)

	// Wrong or missing key: 21301 in an HTTP 200, recorded as such and refused.
	for _, k := range []string{"wrong-secret", ""} {
		a := checkXiaomi(t, xiaomiPost(t, hc, s, k, xiaomiForm(s, []string{"rid-3"}, nil)), 200, 21301)
		if a.Description != "认证失败" {
			t.Errorf("auth failure answer %+v", a)
		}
		if rec := lastRecord(t, s, push.Xiaomi); rec.Status != 200 || rec.Accepted || rec.Reason != "21301" || rec.Delivered("rid-3") {
			t.Errorf("auth failure record %+v", rec)
		}
	}
	if s.Count(push.Xiaomi) != 2 {
		t.Fatalf("Count = %d after refusals, want 2", s.Count(push.Xiaomi))
	}

	// Only POST.
	if r := do(t, hc, http.MethodGet, s.Endpoint(push.Xiaomi)+"/v3/message/regid", h, nil); r.status != 405 {
		t.Fatalf("GET = %d %s", r.status, r.body)
	}
	if r := do(t, hc, http.MethodPost, s.Endpoint(push.Xiaomi)+"/v3/message/topic", h, nil); r.status != 404 {
		t.Fatalf("unknown path = %d %s", r.status, r.body)
	}
}

func TestXiaomiValidation(t *testing.T) {
	s := startSim(t, Options{})
	hc := client(t, s, false)
	key := s.Credentials().Xiaomi.AppSecret
	many := make([]string, 1001)
	for i := range many {
		many[i] = fmt.Sprintf("rid-%d", i)
	}
	cases := []struct {
		name string
		ids  []string
		edit func(url.Values)
		code int
		says string // in the description
	}{
		{"no registration_id", []string{"rid"}, func(f url.Values) { f.Del("registration_id") }, 21305, "registration_id"},
		{"blank registration_id", []string{"rid"}, func(f url.Values) { f.Set("registration_id", " , ") }, 21305, "registration_id"},
		{"no package", []string{"rid"}, func(f url.Values) { f.Del("restricted_package_name") }, 21305, "restricted_package_name"},
		{"no title", []string{"rid"}, func(f url.Values) { f.Del("title") }, 21305, "title"},
		{"blank description", []string{"rid"}, func(f url.Values) { f.Set("description", "  ") }, 21305, "description"},
		{"no pass_through still needs a title", []string{"rid"}, func(f url.Values) { f.Del("pass_through"); f.Del("title") }, 21305, "title"},
		{"wrong package", []string{"rid"}, func(f url.Values) { f.Set("restricted_package_name", "com.other.app") }, 22022, "com.other.app"},
		{"pass_through 2", []string{"rid"}, func(f url.Values) { f.Set("pass_through", "2") }, 21306, "pass_through"},
		{"ttl not a number", []string{"rid"}, func(f url.Values) { f.Set("time_to_live", "1h") }, 21306, "time_to_live"},
		{"ttl zero", []string{"rid"}, func(f url.Values) { f.Set("time_to_live", "0") }, 21306, "time_to_live"},
		{"ttl over two weeks", []string{"rid"}, func(f url.Values) { f.Set("time_to_live", "1209600001") }, 21306, "time_to_live"},
		{"notify_id not a number", []string{"rid"}, func(f url.Values) { f.Set("notify_id", "abc") }, 21306, "notify_id"},
		{"notify_id too big", []string{"rid"}, func(f url.Values) { f.Set("notify_id", "2147483648") }, 21306, "notify_id"},
		{"notify_type", []string{"rid"}, func(f url.Values) { f.Set("notify_type", "8") }, 21306, "notify_type"},
		{"badge", []string{"rid"}, func(f url.Values) { f.Set("extra.badge", "one") }, 21306, "extra.badge"},
		{"1001 regids", many, nil, 21306, "1001"},
		{"title of 50", []string{"rid"}, func(f url.Values) { f.Set("title", strings.Repeat("标", 50)) }, 21306, "title"},
		{"description of 128", []string{"rid"}, func(f url.Values) { f.Set("description", strings.Repeat("d", 128)) }, 21306, "description"},
		{"payload over 4096", []string{"rid"}, func(f url.Values) { f.Set("payload", strings.Repeat("p", 4097)) }, 21306, "payload"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := checkXiaomi(t, xiaomiPost(t, hc, s, key, xiaomiForm(s, tc.ids, tc.edit)), 200, tc.code)
			if !strings.Contains(a.Description, tc.says) || !strings.Contains(a.Reason, tc.says) {
				t.Errorf("answer %+v does not name %q", a, tc.says)
			}
			if rec := lastRecord(t, s, push.Xiaomi); rec.Status != 200 || rec.Accepted || rec.Delivered("") {
				t.Errorf("record %+v, want a refusal", rec)
			}
		})
	}

	// At the limits: 49 and 127 characters, 4096 bytes, 2 weeks.
	ok := xiaomiForm(s, []string{"rid"}, func(f url.Values) {
		f.Set("title", strings.Repeat("标", 49))
		f.Set("description", strings.Repeat("d", 127))
		f.Set("payload", strings.Repeat("p", 4096))
		f.Set("time_to_live", "1209600000")
	})
	checkXiaomi(t, xiaomiPost(t, hc, s, key, ok), 200, 0)

	// A JSON body is not the form MiPush reads.
	h := http.Header{"Content-Type": {"application/json"}, "Authorization": {"key=" + key}}
	r := do(t, hc, http.MethodPost, s.Endpoint(push.Xiaomi)+"/v3/message/regid", h, []byte(`{"registration_id":"rid"}`))
	checkXiaomi(t, r, 200, 21305)
	if s.Count(push.Xiaomi) != 1 {
		t.Fatalf("Count = %d, want only the send at the limits", s.Count(push.Xiaomi))
	}
}

func TestXiaomiInvalidRegIDs(t *testing.T) {
	s := startSim(t, Options{})
	hc := client(t, s, false)
	key := s.Credentials().Xiaomi.AppSecret
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = fmt.Sprintf("rid-%04d", i)
	}
	ids[10], ids[500] = "invalid-a", "invalid-b"

	a := checkXiaomi(t, xiaomiPost(t, hc, s, key, xiaomiForm(s, ids, nil)), 200, 0)
	if a.Data.BadRegIDs != "invalid-a,invalid-b" || a.Info != "Received push messages for 1000 REGID" {
		t.Fatalf("answer %+v, want the two invalid ids in bad_regids", a)
	}
	rec := lastRecord(t, s, push.Xiaomi)
	if len(rec.Tokens) != 1000 || rec.Token != "" || !slices.Equal(rec.InvalidTokens, []string{"invalid-a", "invalid-b"}) ||
		!rec.Delivered("rid-0000") || rec.Delivered("invalid-a") || s.Count(push.Xiaomi) != 998 {
		t.Fatalf("record: %d tokens, invalid %v; Count = %d", len(rec.Tokens), rec.InvalidTokens, s.Count(push.Xiaomi))
	}

	// Every id invalid: 20301.
	checkXiaomi(t, xiaomiPost(t, hc, s, key, xiaomiForm(s, []string{"invalid-x", "invalid-y"}, nil)), 200, 20301)
	rec = lastRecord(t, s, push.Xiaomi)
	if rec.Status != 200 || rec.Accepted || rec.Reason != "20301" || !slices.Equal(rec.InvalidTokens, []string{"invalid-x", "invalid-y"}) {
		t.Fatalf("record %+v", rec)
	}

	// A fault with code 20301 kills its id only.
	if err := s.SetFault(Fault{Provider: push.Xiaomi, Token: "rid-0001", Status: 400, Reason: "20301"}); err != nil {
		t.Fatal(err)
	}
	a = checkXiaomi(t, xiaomiPost(t, hc, s, key, xiaomiForm(s, []string{"rid-0000", "rid-0001"}, nil)), 200, 0)
	if a.Data.BadRegIDs != "rid-0001" || !slices.Equal(lastRecord(t, s, push.Xiaomi).InvalidTokens, []string{"rid-0001"}) {
		t.Fatalf("answer %+v", a)
	}
	checkXiaomi(t, xiaomiPost(t, hc, s, key, xiaomiForm(s, []string{"rid-0001"}, nil)), 200, 20301)

	// Provider-wide, it kills every id.
	s.ClearFaults()
	if err := s.SetFault(Fault{Provider: push.Xiaomi, Status: 400, Reason: "20301", Times: 1}); err != nil {
		t.Fatal(err)
	}
	checkXiaomi(t, xiaomiPost(t, hc, s, key, xiaomiForm(s, []string{"rid-0000", "rid-0002"}, nil)), 200, 20301)
	checkXiaomi(t, xiaomiPost(t, hc, s, key, xiaomiForm(s, []string{"rid-0000", "rid-0002"}, nil)), 200, 0)
}

func TestXiaomiFaults(t *testing.T) {
	s := startSim(t, Options{})
	hc := client(t, s, false)
	key := s.Credentials().Xiaomi.AppSecret
	cases := []struct {
		fault Fault
		code  int
	}{
		{Fault{Status: 503, RetryAfter: 30 * time.Second}, 10002},
		{Fault{Status: 429}, 10003},
		{Fault{Status: 500, Reason: "10037"}, 10037},
		{Fault{Status: 429, Reason: "200001"}, 200001},
		{Fault{Status: 401}, 21301},
		{Fault{Status: 400}, 21306},
	}
	for _, tc := range cases {
		tc.fault.Provider, tc.fault.Times = push.Xiaomi, 1
		if err := s.SetFault(tc.fault); err != nil {
			t.Fatal(err)
		}
		r := xiaomiPost(t, hc, s, key, xiaomiForm(s, []string{"rid"}, nil))
		checkXiaomi(t, r, tc.fault.Status, tc.code)
		if got, want := r.header.Get("Retry-After"), tc.fault.retryAfterSeconds(); got != want {
			t.Errorf("Retry-After = %q, want %q", got, want)
		}
		if rec := lastRecord(t, s, push.Xiaomi); rec.Status != tc.fault.Status || rec.Accepted || rec.Reason != fmt.Sprint(tc.code) {
			t.Errorf("record %+v", rec)
		}
	}
	// The fault was used up; a bad key is refused before any fault applies.
	checkXiaomi(t, xiaomiPost(t, hc, s, key, xiaomiForm(s, []string{"rid"}, nil)), 200, 0)
	if err := s.SetFault(Fault{Provider: push.Xiaomi, Status: 503}); err != nil {
		t.Fatal(err)
	}
	checkXiaomi(t, xiaomiPost(t, hc, s, "bad", xiaomiForm(s, []string{"rid"}, nil)), 200, 21301)
}

func TestXiaomiDailyQuota(t *testing.T) {
	// 23:30 in China (15:30 UTC).
	clock := &fakeClock{now: time.Date(2025, 3, 10, 15, 30, 0, 0, time.UTC)}
	s := startSim(t, Options{Now: clock.Now})
	hc := client(t, s, false)
	key := s.Credentials().Xiaomi.AppSecret
	public := func(ids ...string) url.Values {
		return xiaomiForm(s, ids, func(f url.Values) { f.Del("extra.channel_id") })
	}

	// Counted even while unlimited: one message today already.
	checkXiaomi(t, xiaomiPost(t, hc, s, key, public("a")), 200, 0)
	s.SetDailyQuota(push.Xiaomi, 4)
	checkXiaomi(t, xiaomiPost(t, hc, s, key, public("b", "invalid-c")), 200, 0) // the invalid id is not counted
	checkXiaomi(t, xiaomiPost(t, hc, s, key, public("c", "d", "e")), 200, 200001)
	if rec := lastRecord(t, s, push.Xiaomi); rec.Status != 200 || rec.Accepted || rec.Reason != "200001" || rec.Delivered("") {
		t.Fatalf("quota refusal record %+v", rec)
	}
	// Another channel than the approved one is public too.
	checkXiaomi(t, xiaomiPost(t, hc, s, key, xiaomiForm(s, []string{"c", "d"}, func(f url.Values) { f.Set("extra.channel_id", "other") })), 200, 0)
	checkXiaomi(t, xiaomiPost(t, hc, s, key, public("e")), 200, 200001)
	// The private channel is unlimited.
	checkXiaomi(t, xiaomiPost(t, hc, s, key, xiaomiForm(s, []string{"p1", "p2", "p3", "p4", "p5"}, nil)), 200, 0)

	// Midnight in China: a new day.
	clock.Advance(time.Hour)
	checkXiaomi(t, xiaomiPost(t, hc, s, key, public("e", "f", "g", "h")), 200, 0)
	checkXiaomi(t, xiaomiPost(t, hc, s, key, public("i")), 200, 200001)
	// Midnight UTC is 08:00 in China, the same quota day.
	clock.Advance(8 * time.Hour)
	checkXiaomi(t, xiaomiPost(t, hc, s, key, public("i")), 200, 200001)

	s.SetDailyQuota(push.Xiaomi, 0)
	checkXiaomi(t, xiaomiPost(t, hc, s, key, public("i")), 200, 0)
}

func TestXiaomiQuotaIsPerSim(t *testing.T) {
	a := startSim(t, Options{})
	b := startSim(t, Options{})
	a.SetDailyQuota(push.Xiaomi, 1)
	for _, s := range []*Sim{a, b} {
		hc := client(t, s, false)
		key := s.Credentials().Xiaomi.AppSecret
		form := xiaomiForm(s, []string{"x", "y"}, func(f url.Values) { f.Del("extra.channel_id") })
		want := 0
		if s == a {
			want = 200001
		}
		checkXiaomi(t, xiaomiPost(t, hc, s, key, form), 200, want)
	}
}

func TestXiaomiConfigSnippet(t *testing.T) {
	s := startSim(t, Options{})
	yaml := s.ConfigYAML(t.TempDir())
	c := s.Credentials().Xiaomi
	for _, want := range []string{
		"\n  xiaomi:\n",
		fmt.Sprintf("app_secret: %q", c.AppSecret),
		fmt.Sprintf("package_name: %q", c.PackageName),
		fmt.Sprintf("endpoint: %q", s.Endpoint(push.Xiaomi)),
		fmt.Sprintf("channel_id: %q", XiaomiPrivateChannelID),
	} {
		if !strings.Contains(yaml, want) {
			t.Errorf("config lacks %q:\n%s", want, yaml)
		}
	}
}

// FuzzXiaomiForm feeds arbitrary forms to the MiPush checks: a request is
// delivered only when it carries the app's package, at most 1000 ids and a
// numeric time_to_live within two weeks.
func FuzzXiaomiForm(f *testing.F) {
	s := newFuzzSim(f)
	v := &xiaomiVendor{env: testEnv(s, push.Xiaomi), secret: s.creds.Xiaomi.AppSecret,
		packageName: s.creds.Xiaomi.PackageName}
	f.Add(xiaomiForm(s, []string{"rid"}, nil).Encode())
	f.Add(xiaomiForm(s, []string{"rid", "invalid-x"}, func(f url.Values) { f.Set("pass_through", "1") }).Encode())
	f.Add("registration_id=a&restricted_package_name=im.pushd.demo&pass_through=1&time_to_live=1e3")
	f.Add("registration_id=%zz&title=")
	f.Add("")
	f.Fuzz(func(t *testing.T, body string) {
		r, err := http.NewRequest(http.MethodPost, "/v3/message/regid", strings.NewReader(body))
		if err != nil {
			t.Skip()
		}
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		ids := v.targets(r, []byte(body))
		a := v.serve(r, []byte(body), ids)
		var ans xiaomiAnswer
		if err := json.Unmarshal(a.body, &ans); err != nil {
			t.Fatalf("answer %q is not JSON", a.body)
		}
		if a.status != 200 || a.accepted != (ans.Code == 0) {
			t.Fatalf("HTTP %d, accepted %v with code %d", a.status, a.accepted, ans.Code)
		}
		if !a.accepted {
			return
		}
		form, _ := url.ParseQuery(body)
		ttl, err := strconv.ParseInt(form.Get("time_to_live"), 10, 64)
		if form.Get("restricted_package_name") != s.creds.Xiaomi.PackageName || len(ids) == 0 || len(ids) > 1000 ||
			(form.Has("time_to_live") && (err != nil || ttl < 1 || ttl > 14*24*3600*1000)) {
			t.Fatalf("delivered %q", body)
		}
		for _, id := range a.invalidTokens {
			if !slices.Contains(ids, id) {
				t.Fatalf("invalid id %q is not a target", id)
			}
		}
	})
}
