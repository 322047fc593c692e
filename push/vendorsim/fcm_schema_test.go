package vendorsim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// refMembers converts decodeMembersRef's members for comparison with splitObject's.
func refMembers(raw []byte) ([]jsonMember, bool) {
	ref, ok := decodeMembersRef(raw)
	if !ok {
		return nil, false
	}
	var out []jsonMember
	for _, m := range ref {
		out = append(out, jsonMember{key: m.key, value: string(m.value)})
	}
	return out, true
}

func TestSplitObject(t *testing.T) {
	cases := []struct {
		raw  string
		want []jsonMember
		ok   bool
	}{
		{`{}`, nil, true},
		{" \t\r\n{ \n} ", nil, true},
		{`{"a":1}`, []jsonMember{{"a", "1"}}, true},
		{" { \"a\" :\n 1 ,\t\"b\" : [ 1 , {} ] , \"c\":{ \"d\" : null } } ",
			[]jsonMember{{"a", "1"}, {"b", "[ 1 , {} ]"}, {"c", `{ "d" : null }`}}, true},
		{`{"a":"}\"{[","b\"}":"x\\","c":-1.5e3,"d":true,"e":false}`,
			[]jsonMember{{"a", `"}\"{["`}, {`b"}`, `"x\\"`}, {"c", "-1.5e3"}, {"d", "true"}, {"e", "false"}}, true},
		{`{"a":1,"a":2}`, []jsonMember{{"a", "1"}, {"a", "2"}}, true},
		{`{"\u0074oken":"t","caf\u00e9":1,"café":2,"\ud800":3}`,
			[]jsonMember{{"token", `"t"`}, {"café", "1"}, {"café", "2"}, {"\ufffd", "3"}}, true},
		{"{\"a\xffb\":1}", []jsonMember{{"a\ufffdb", "1"}}, true},
		{`{"a":[[{"b":"]]}"}]],"c":{"d":{"e":[]}}}`, []jsonMember{{"a", `[[{"b":"]]}"}]]`}, {"c", `{"d":{"e":[]}}`}}, true},
		{`[1]`, nil, false},
		{`"{}"`, nil, false},
		{`null`, nil, false},
		{``, nil, false},
		{` `, nil, false},
	}
	for _, tc := range cases {
		got, ok := splitObject(tc.raw)
		if ok != tc.ok || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("splitObject(%q) = %q, %v; want %q, %v", tc.raw, got, ok, tc.want, tc.ok)
		}
		if json.Valid([]byte(tc.raw)) {
			ref, refOK := refMembers([]byte(tc.raw))
			if refOK != ok || !reflect.DeepEqual(ref, got) {
				t.Errorf("splitObject(%q) = %q, %v; json.Decoder gives %q, %v", tc.raw, got, ok, ref, refOK)
			}
		}
	}
}

// TestSplitObjectInvalid: splitObject is only given valid JSON, but on broken
// objects it fails rather than panic or loop; what follows an object it ignores,
// as json.Decoder does.
func TestSplitObjectInvalid(t *testing.T) {
	for _, raw := range []string{`{`, `{"`, `{"a`, `{"a"`, `{"a":`, `{"a":1`, `{"a":1,`, `{"a":"`, `{"a":"\`, `{"a":{`,
		`{"a":[}`, `{"a"1}`, `{1:2}`, `{"a":1 "b":2}`, `{"a":,}`, `{"a":}`, `{,}`, `{"a":1]`, `{"a":"\"}`} {
		if got, ok := splitObject(raw); ok {
			t.Errorf("splitObject(%q) = %q, ok", raw, got)
		}
	}
	if got, ok := splitObject(`{"a":1}}`); !ok || len(got) != 1 {
		t.Errorf("splitObject with trailing bytes = %q, %v", got, ok)
	}
}

func TestJSONString(t *testing.T) {
	for _, raw := range []string{``, `null`, `""`, `"abc"`, `"a\"b"`, `"a\\"`, `"\u00e9\n"`, `"café"`, "\"a\xffb\"",
		"\"\xed\xa0\x80\"", `"\ud800"`, "\"a\tb\"", `1`, `true`, `{}`, `["a"]`, `"`, `"a`} {
		var want string
		wantOK := json.Unmarshal([]byte(raw), &want) == nil
		if got, ok := jsonString(raw); got != want || ok != wantOK {
			t.Errorf("jsonString(%q) = %q, %v; json.Unmarshal gives %q, %v", raw, got, ok, want, wantOK)
		}
	}
}

func TestProtoInt64(t *testing.T) {
	for _, raw := range []string{`0`, `-0`, `7`, `-7`, `123456789012345678`, `-123456789012345678`, `9223372036854775807`,
		`9223372036854775808`, `-9223372036854775808`, `-9223372036854775809`, `1.0`, `1e3`, `-`, `"3"`, `"-3"`, `"3.5"`,
		`"x"`, `""`, `true`, `[]`, `{}`, `00`, `01`, `1x`} {
		var n json.Number
		want := json.Unmarshal([]byte(raw), &n) == nil
		if want {
			_, err := n.Int64()
			want = err == nil
		}
		if got := protoInt64(raw); got != want {
			t.Errorf("protoInt64(%s) = %v, want %v", raw, got, want)
		}
	}
}

func TestValidFCMToken(t *testing.T) {
	for _, tok := range []string{"", testFCMToken, "a", "a b", "a\n", "tök", "A-z_0:9.", "a/b", "a+b", "a=",
		strings.Repeat("a", fcmMaxToken), strings.Repeat("a", fcmMaxToken+1), "\xff"} {
		if got, want := validFCMToken(tok), validFCMTokenRef(tok); got != want {
			t.Errorf("validFCMToken(%q) = %v, want %v", tok, got, want)
		}
	}
}

// TestFCMSchemaLookup checks the lowerCamelCase index against the plain search:
// every field of every schema, in both spellings and in some wrong ones.
func TestFCMSchemaLookup(t *testing.T) {
	var walk func(fcmSchema)
	walk = func(s fcmSchema) {
		for name, f := range s {
			for _, key := range []string{name, lowerCamel(name), strings.ToUpper(name), name + "_", "x" + lowerCamel(name)} {
				gotName, gotField, gotOK := s.lookup(key)
				wantName, wantField, wantOK := s.lookupRef(key)
				if gotName != wantName || gotOK != wantOK || !reflect.DeepEqual(gotField, wantField) {
					t.Errorf("lookup(%q) = %q, %v; want %q, %v", key, gotName, gotOK, wantName, wantOK)
				}
			}
			if f.kind == kindObject {
				walk(f.fields)
			}
		}
	}
	walk(fcmSendRequestSchema)
}

// FuzzFCMSplitObject compares splitObject with encoding/json's view of valid
// JSON: json.Decoder.Token member by member (as the checks were first written),
// and json.Unmarshal into a map when no key repeats. It also checks jsonString
// and compactLen on the values.
func FuzzFCMSplitObject(f *testing.F) {
	for _, seed := range []string{`{}`, `{"a":1,"b":"x","c":[1,{"d":"}"}],"e":{"f":null},"g":true}`,
		" {\n \"a\" : \"b\\\"}\" , \"a\":\t-0.5e+2 } ", `{"\u0061\n":"\u00e9\ud800","caf\u00e9":"café"}`,
		"{\"a\xffb\":\"c\xfe\"}", `[{"a":1}]`, `"x"`, fcmTypicalBody, fcmCamelBody, fcmRejectedBody} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		members, ok := splitObject(string(raw)) // must not panic on anything
		if !json.Valid(raw) {
			return
		}
		ref, refOK := refMembers(raw)
		if ok != refOK || !reflect.DeepEqual(members, ref) {
			t.Fatalf("splitObject(%q) = %q, %v; json.Decoder gives %q, %v", raw, members, ok, ref, refOK)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); (err == nil && m != nil) != ok {
			t.Fatalf("splitObject(%q) ok = %v; json.Unmarshal: %v", raw, ok, err)
		}
		seen := map[string]string{}
		for _, member := range members {
			seen[member.key] = member.value
		}
		if len(seen) == len(members) { // no key repeats
			if len(m) != len(seen) {
				t.Fatalf("splitObject(%q) = %q; json.Unmarshal gives %q", raw, members, m)
			}
			for k, v := range m {
				if got, ok := seen[k]; !ok || got != string(v) {
					t.Fatalf("splitObject(%q)[%q] = %q; json.Unmarshal gives %q", raw, k, got, v)
				}
			}
		}
		for _, member := range members {
			var want string
			wantOK := json.Unmarshal([]byte(member.value), &want) == nil
			if got, gotOK := jsonString(member.value); got != want || gotOK != wantOK {
				t.Fatalf("jsonString(%q) = %q, %v; json.Unmarshal gives %q, %v", member.value, got, gotOK, want, wantOK)
			}
			var buf bytes.Buffer
			if err := json.Compact(&buf, []byte(member.value)); err != nil || compactLen(member.value) != buf.Len() {
				t.Fatalf("compactLen(%q) = %d; json.Compact gives %d (%v)", member.value, compactLen(member.value), buf.Len(), err)
			}
		}
	})
}

// fcmTrickyBodies are send requests that probe the corners of the checks: key
// spellings and escapes, duplicates, whitespace, types, limits.
var fcmTrickyBodies = []string{
	fcmTypicalBody, fcmCamelBody, fcmRejectedBody, fcmMessage(testFCMToken),
	`{"validateOnly":true,"message":{"topic":"news","data":{"a":"b"}}}`,
	`{"message":{"token":"t","data":{"a":1},"android":{"ttl":"1.5s","priority":"high"}}}`,
	`{"to":"x","message":{"token":"t","topic":"y"}}`,
	`{"message":{"apns":{"payload":{"aps":{"alert":"x"}}},"condition":"'a' in topics"}}`,
	`[1,2]`, `"x"`, `1`, `null`, ` {} `, `{"message":null}`, `{"message":{}}`, `{"message":`, ``, `{"message":[]}`,
	// escapes and odd bytes in keys and values
	`{"mess\u0061ge":{"\u0074oken":"t","data":{"\u0066rom":"x"}}}`,
	`{"message":{"token":"t","data":{"a":"}\"{[","b\"}":"x\\"}}}`,
	"{\"message\":{\"tok\xffen\":\"t\"}}",
	`{"message":{"token":"t","\ud800":1,"caf\u00e9":2}}`,
	`{"message":{"token":"t\u0041"}}`,
	`{"message":{"token":"tök"}}`,
	`{"message":{"token":"a\nb"}}`,
	`{"message":{"topic":"/topics/a%b~c"}}`,
	`{"message":{"topic":"bad topic"}}`,
	// duplicates, and a field spelt both ways
	`{"message":{"token":"a"},"message":null}`,
	`{"message":null,"message":{"token":"a"}}`,
	`{"message":{"token":"a","token":"b c"}}`,
	`{"message":{"token":"a","token":null}}`,
	`{"validate_only":true,"validateOnly":false,"message":{"token":"t"}}`,
	`{"validateOnly":false,"validate_only":true,"message":{"token":"t"}}`,
	`{"message":{"token":"t","android":{"priority":"high"},"android":{"priority":"urgent"}}}`,
	`{"message":{"token":"t","android":{"priority":"urgent"},"android":null}}`,
	`{"message":{"token":"t","android":{"notification":{"channel_id":1,"channelId":2}}}}`,
	// whitespace everywhere
	"\r\n{\t\"message\" :\n{ \"token\" : \"t\" ,\n \"notification\" : { \"title\" : \"a b\" } ,\"data\": { \"k\" : \"v\" } } }\n",
	// types
	`{"message":{"token":"t","android":{"notification":{"notification_count":3}}}}`,
	`{"message":{"token":"t","android":{"notification":{"notificationCount":"3"}}}}`,
	`{"message":{"token":"t","android":{"notification":{"notification_count":3.0}}}}`,
	`{"message":{"token":"t","android":{"notification":{"notification_count":1e2}}}}`,
	`{"message":{"token":"t","android":{"notification":{"notification_count":-0}}}}`,
	`{"message":{"token":"t","android":{"notification":{"notification_count":9223372036854775807}}}}`,
	`{"message":{"token":"t","android":{"notification":{"notification_count":9223372036854775808}}}}`,
	`{"message":{"token":"t","android":{"notification":{"notification_count":"x","sticky":"yes","body_loc_args":["a",1,null]}}}}`,
	`{"message":{"token":"t","android":{"notification":{"bodyLocArgs":[],"titleLocArgs":"x","light_settings":{"x":1}}}}}`,
	`{"message":{"token":"t","data":{"a":null,"b":{},"c":[],"d":true,"e":"f"}}}`,
	`{"message":{"token":"t","data":[],"notification":"hi","android":1,"apns":{"headers":{"a":1},"payload":[]}}}`,
	`{"message":{"token":"t","webpush":{"headers":{"TTL":"60"},"data":{"a":"b"},"notification":{"title":"x"},"fcm_options":{"link":"https://x"}}}}`,
	`{"message":{"token":"t","webpush":{"notification":"x","fcmOptions":{"analyticsLabel":1}}}}`,
	`{"message":{"token":1,"topic":true,"condition":null}}`,
	`{"message":{"token":"t","apns":{"payload":{"aps":{"alert":["a",{"b":"}"}]}}},"fcm_options":{"analytics_label":"x"}}}`,
	`{"message":{"token":"t","android":{"ttl":"2419200s","priority":"Normal"}}}`,
	`{"message":{"token":"t","android":{"ttl":"2419201s","priority":1}}}`,
	`{"message":{"token":"t","android":{"ttl":5,"priority":null}}}`,
	`{"message":{"token":"t","android":{"ttl":"1.1234567890s"}}}`,
	`{"message":{"token":"t","android":{"ttl":"2419201s"}}}`,
	`{"message":{"token":"t","android":{"ttl":"1h","priority":"HIGH"}}}`,
	`{"message":{"token":"t","android":{"data":{"gcm.x":"y"}}}}`,
	// the payload limit: the notification counts compacted, data values decoded
	`{"message":{"token":"t","notification":{"title":      "x"      },"data":{"k":"` + strings.Repeat("x", 4082) + `"}}}`,
	`{"message":{"token":"t","notification":{"title":      "x"      },"data":{"k":"` + strings.Repeat("x", 4083) + `"}}}`,
	`{"message":{"token":"t","data":{"k":"` + strings.Repeat("x", 4000) + strings.Repeat("\xff", 40) + `"}}}`,
	`{"message":{"token":"t","data":{"k":"` + strings.Repeat(`\u0041`, 1000) + `"}}}`,
	`{"message":{"topic":"news","data":{"k":"` + strings.Repeat("é", 1024) + `"}}}`,
	// targets: encoding/json matches keys case-insensitively, and merges repeated objects
	`{"Message":{"Token":"t"}}`,
	`{"MESSAGE":{"toKen":"a","token":"b"}}`,
	`{"message":{"token":"a","TOKEN":"b"}}`,
	`{"message":{"to\u212aen":"k"}}`,
	"{\"message\":{\"to\u212aen\":\"k\"}}",
	"{\"me\u017f\u017fage\":{\"token\":\"s\"}}",
	`{"message":{"token":"a"},"message":{"topic":"b"}}`,
	`{"message":{"topic":"b"},"message":null,"message":{"token":null}}`,
	`{"message":{"token":"a","topic":[]}}`,
	`{"message":{"token":"a"},"message":"x"}`,
	`{"message":{"topic":"/topics/x","Topic":"y"},"messages":{"token":"z"}}`,
	`{"message":{"token":""," token":"x","tokenx":"y","topic":"/topics/"}}`,
}

// FuzzFCMValidateMatchesReference checks that targets finds what the first
// version on json.Unmarshal (targetsRef) found, and that serve answers every
// body as the checks first written on json.Decoder (serveRef) do: same
// status, reason, headers and body (but for the random message id of a send).
func FuzzFCMValidateMatchesReference(f *testing.F) {
	s := newFuzzSim(f)
	v := newTestFCM(s)
	for _, body := range fcmTrickyBodies {
		f.Add([]byte(body))
	}
	r := &http.Request{Method: http.MethodPost, URL: &url.URL{Path: "/v1/projects/" + DemoProjectID + "/messages:send"}, Header: http.Header{}}
	f.Fuzz(func(t *testing.T, body []byte) {
		targets := v.targets(r, body)
		if want := targetsRef(body); !reflect.DeepEqual(targets, want) {
			t.Fatalf("body %q: targets %q, want %q", body, targets, want)
		}
		got, want := v.serve(r, body, targets), v.serveRef(r, body, targets)
		gotBody, wantBody := got.body, want.body
		if got.status == http.StatusOK && !got.dryRun {
			gotBody, wantBody = maskMessageID(gotBody), maskMessageID(wantBody)
		}
		if got.status != want.status || got.reason != want.reason || got.accepted != want.accepted || got.dryRun != want.dryRun ||
			!reflect.DeepEqual(got.header, want.header) || !bytes.Equal(gotBody, wantBody) {
			t.Fatalf("body %q:\n got %d %q accepted=%v dryRun=%v %v %s\nwant %d %q accepted=%v dryRun=%v %v %s", body,
				got.status, got.reason, got.accepted, got.dryRun, got.header, got.body,
				want.status, want.reason, want.accepted, want.dryRun, want.header, want.body)
		}
	})
}

// maskMessageID cuts the generated id off a send answer's message name.
func maskMessageID(body []byte) []byte {
	if i := bytes.Index(body, []byte("/messages/")); i >= 0 {
		return body[:i]
	}
	return body
}
