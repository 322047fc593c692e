package vendorsim

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"

	"github.com/pushd-im/pushd/push"
)

// The admin API, on the Sim's own listener, for tests and tools outside the process:
//
//	GET    /sim/records?provider=apns&token=…&delivered=true   JSON list of Records
//	DELETE /sim/records                                       forget records (Reset)
//	GET    /sim/faults                                        JSON list of set faults (with "left")
//	POST   /sim/faults        {"provider":"apns","token":"…","status":410,"reason":"Unregistered",
//	                           "retry_after":"2s","latency":"200ms","times":1}
//	DELETE /sim/faults                                        clear every fault
//	DELETE /sim/access-tokens                                 invalidate issued access tokens
//	POST   /sim/apns-tokens?env=sandbox|production            {"token":"…","env":"…"}: a device
//	                                                          token of one APNs environment (APNsToken)
//
// Errors are {"error":{"code":"bad_request","message":"…"}} as in pushd's own API.
// The API has no authentication: it answers only loopback clients (403 to others).
const adminPrefix = "/sim"

// maxAdminBody caps an admin request body.
const maxAdminBody = 64 << 10

func (s *Sim) mountAdmin(mux *http.ServeMux) {
	// The API has no authentication and a fault can unbind every device (a
	// 410 for each token): only a client on the Sim's own host may use it,
	// whatever address the Sim listens on.
	handle := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, loopbackOnly(h)) }
	handle("GET "+adminPrefix+"/records", s.handleGetRecords)
	handle("DELETE "+adminPrefix+"/records", func(w http.ResponseWriter, r *http.Request) {
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
	handle("GET "+adminPrefix+"/faults", func(w http.ResponseWriter, r *http.Request) {
		writeAdminJSON(w, http.StatusOK, s.faults.list())
	})
	handle("POST "+adminPrefix+"/faults", s.handlePostFault)
	handle("DELETE "+adminPrefix+"/faults", func(w http.ResponseWriter, r *http.Request) {
		s.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	handle("DELETE "+adminPrefix+"/access-tokens", func(w http.ResponseWriter, r *http.Request) {
		s.ExpireAccessTokens()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST "+adminPrefix+"/apns-tokens", func(w http.ResponseWriter, r *http.Request) {
		env := r.URL.Query().Get("env")
		if env != "sandbox" && env != "production" {
			writeAdminError(w, http.StatusBadRequest, "env must be sandbox or production; got "+strconv.Quote(env))
			return
		}
		writeAdminJSON(w, http.StatusCreated, map[string]string{"token": s.APNsToken(env == "sandbox"), "env": env})
	})
}

// loopbackOnly answers 403 to a request that did not come from a loopback address.
func loopbackOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": "forbidden",
				"message": "the simulator's admin API (" + adminPrefix + "/...) answers only clients on its own host (loopback)"}})
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write(append(b, '\n'))
			return
		}
		h(w, r)
	}
}

func (s *Sim) handleGetRecords(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p := push.Provider(q.Get("provider"))
	if _, ok := s.vendors[p]; p != "" && !ok {
		writeAdminError(w, http.StatusBadRequest, "provider "+strconv.Quote(string(p))+" is not one of "+fmt.Sprint(s.Providers()))
		return
	}
	token := q.Get("token")
	delivered := false
	if v := q.Get("delivered"); v != "" {
		var err error
		if delivered, err = strconv.ParseBool(v); err != nil {
			writeAdminError(w, http.StatusBadRequest, "delivered must be true or false")
			return
		}
	}
	recs, _ := s.records.snapshot(func(rec *Record) bool {
		if p != "" && rec.Provider != p {
			return false
		}
		if delivered {
			return rec.Delivered(token)
		}
		if token != "" {
			for _, t := range rec.Tokens {
				if t == token {
					return true
				}
			}
			return false
		}
		return true
	})
	writeAdminJSON(w, http.StatusOK, recs)
}

func (s *Sim) handlePostFault(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxAdminBody))
	if err != nil {
		writeAdminError(w, http.StatusBadRequest, "reading body: "+err.Error())
		return
	}
	var f Fault
	if err := json.Unmarshal(body, &f); err != nil {
		writeAdminError(w, http.StatusBadRequest, "fault: "+err.Error())
		return
	}
	if err := s.SetFault(f); err != nil {
		writeAdminError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeAdminJSON(w, http.StatusCreated, f)
}

func writeAdminJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeAdminError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeAdminError(w http.ResponseWriter, status int, msg string) {
	code := "bad_request"
	if status >= 500 {
		code = "internal"
	}
	b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": code, "message": msg}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
