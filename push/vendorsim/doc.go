// Package vendorsim is pushd's built-in vendor push simulator: one loopback HTTPS
// server (HTTP/2 and HTTP/1.1) that stands in for the vendor push services in tests
// and in the daemon's credential-free default mode.
//
// The simulator checks what the real services check (APNs ES256 provider tokens and
// client certificates, FCM service-account OAuth grants and bearer tokens, required
// headers and fields, size limits) and answers with the real success and error
// shapes described in docs/vendors.md, so a client that passes against it has a good
// chance against the real service. Where a vendor fact is UNCONFIRMED, the simulator
// codes it in one named table in that vendor's file.
//
// Every vendor lives under its own prefix on the one listener: {URL}/apns, {URL}/fcm
// (token endpoint {URL}/fcm/token), {URL}/hms, {URL}/xiaomi, {URL}/oppo, {URL}/vivo.
// See Sim.Endpoint and Sim.AuthEndpoint. Each request that reaches a send endpoint is
// kept as a Record; Faults make a send endpoint answer with a chosen error, a delay,
// or both. Both are reachable from Go (Sim.Records, Sim.SetFault, …) and over HTTP
// under {URL}/sim (see admin.go). A Record keeps the HTTP status as answered and,
// apart, whether the vendor accepted the push (MiPush, OPPO and vivo refuse with
// HTTP 200 and a code). The Huawei, Xiaomi, OPPO and vivo simulators treat a
// device token starting with "invalid-" as dead, and keep a daily quota that
// Sim.SetDailyQuota caps.
//
// # Adding a vendor
//
// A vendor is one file that declares its vendorSpec in a function, listed in
// vendorSpecs. Its handler builds send endpoints with vendorEnv.sendHandler, which
// records every request (with the wire status and whether the vendor accepted the
// push) and applies faults; the vendor supplies only its checks and its answers
// (see vendor.go, apns.go, fcm.go). A vendor that caps what an app may send per
// day charges vendorEnv.quota, the Sim's per-vendor dailyQuota (quota.go).
//
// # Concurrency contract
//
//   - All methods of *Sim are safe for concurrent use.
//   - Start may be called once. The Sim owns the server goroutine and every
//     connection goroutine net/http starts for it; Shutdown stops them all, cuts
//     injected latencies short and is idempotent. Records and faults stay readable
//     after Shutdown.
//   - Wait blocks on a change notification, never on a sleep; it returns when the
//     condition holds, ctx is done or the Sim shuts down.
//   - Credentials is plain data; a *Credentials shared with a running Sim must not be
//     modified.
package vendorsim
