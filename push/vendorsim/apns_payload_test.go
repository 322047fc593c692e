package vendorsim

import (
	"encoding/json"
	"strings"
	"testing"
)

// validAPNsPayloadMaps is the check as encoding/json's maps see it: the
// oracle of validAPNsPayload.
func validAPNsPayloadMaps(body []byte) bool {
	var payload map[string]json.RawMessage
	if err := json.Unmarshal(body, &payload); err != nil {
		return false
	}
	var aps map[string]json.RawMessage
	return json.Unmarshal(payload["aps"], &aps) == nil && aps != nil
}

var apnsPayloadBodies = []string{
	`{"aps":{"alert":"hi"}}`, `{"aps":{}}`, ` { "aps" : { } } `, `{"aps":null}`, `{"aps":[]}`, `{"aps":"x"}`,
	`{"aps":1}`, `{}`, `[]`, `null`, `{"aps":{}`, `{"aps":{}}x`, `{"x":1,"aps":{"badge":1},"y":[1,{"aps":2}]}`,
	`{"aps":{},"aps":null}`, `{"aps":null,"aps":{}}`, `{"\u0061ps":{}}`, `{"APS":{}}`, `{"aps ":{}}`,
	`{"a":"\"aps\":{}","aps":{}}`, `{"a":"}","b":{"aps":{}}}`, "{\"aps\":{\"alert\":\"\xff\"}}", ``,
}

func TestValidAPNsPayloadMatchesMaps(t *testing.T) {
	for _, b := range apnsPayloadBodies {
		if got, want := validAPNsPayload([]byte(b)), validAPNsPayloadMaps([]byte(b)); got != want {
			t.Errorf("validAPNsPayload(%q) = %v, want %v", b, got, want)
		}
	}
}

func FuzzValidAPNsPayloadMatchesMaps(f *testing.F) {
	for _, b := range apnsPayloadBodies {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if got, want := validAPNsPayload(body), validAPNsPayloadMaps(body); got != want {
			t.Fatalf("validAPNsPayload(%q) = %v, want %v", body, got, want)
		}
	})
}

func TestNewUUID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		u := newUUID()
		if !validUUID(u) || u != strings.ToUpper(u) || u[14] != '4' || !strings.ContainsRune("89AB", rune(u[19])) || seen[u] {
			t.Fatalf("newUUID() = %q: want a new upper-case version 4 UUID", u)
		}
		seen[u] = true
	}
}
