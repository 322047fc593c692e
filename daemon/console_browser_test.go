package daemon_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendorsim"
)

// The web console in a real browser: Debian's chromium, driven with chromedp,
// loads every page against a running daemon, does the test push, and checks
// what the page shows. Screenshots go to $ARTIFACTS_DIR/console (or a new
// directory under the system's temp dir); the test logs their paths.
// scripts/chromium installs chromium (scripts/test runs it first); without
// one the test is skipped, saying so.

// findChromium is the browser to drive: $CHROMIUM, or chromium on PATH.
func findChromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome-stable", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium found (CHROMIUM or chromium on PATH): run scripts/chromium to install it; scripts/test does")
	return ""
}

// screenshotDir is where the console's screenshots are saved.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := ""
	if a := os.Getenv("ARTIFACTS_DIR"); a != "" {
		dir = filepath.Join(a, "console")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	} else {
		var err error
		if dir, err = os.MkdirTemp("", "pushd-console-screenshots-"); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("console screenshots: %s", dir)
	return dir
}

// browser is one headless chromium tab on the console.
type browser struct {
	t   *testing.T
	ctx context.Context
	dir string
	n   int
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := findChromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first run starts the browser; it must have no timeout of its own.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium (%s): %v", path, err)
	}
	return &browser{t: t, ctx: ctx, dir: screenshotDir(t)}
}

// do runs steps, each wait bounded by waitTimeout.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 2*waitTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v\npage status: %s", what, err, b.visibleStatus())
	}
}

// visibleStatus is the text of the page's status lines, for failures.
func (b *browser) visibleStatus() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll(".status,.error")].filter(e => e.offsetParent).map(e => e.id + ": " + e.textContent).join(" | ")`))
	if err != nil {
		return err.Error()
	}
	return s
}

// text is the text of the first element sel matches.
func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	// One evaluation in the page finds the element and reads it: a query and
	// a separate read race with the page re-rendering its tables.
	js := fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e ? [e.innerText] : null; })()`, sel)
	s, err := chromedp.Run(ctx, chromedp.Poll[[]string](js, chromedp.WithPollingTimeout(waitTimeout), chromedp.WithPollingInterval(50*time.Millisecond)))
	if err != nil || len(s) != 1 {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s[0]
}

// waitText waits until the element sel has text containing want.
func (b *browser) waitText(sel, want string) {
	b.t.Helper()
	js := fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.offsetParent !== null && e.textContent.includes(%q); })()`, sel, want)
	b.do(fmt.Sprintf("wait for %s to show %q", sel, want), chromedp.Poll[chromedp.Void](js, chromedp.WithPollingTimeout(waitTimeout), chromedp.WithPollingInterval(50*time.Millisecond)))
}

// shot saves a full-page screenshot named name.
func (b *browser) shot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	b.n++
	path := filepath.Join(b.dir, fmt.Sprintf("%02d-%s.png", b.n, name))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
}

// fill sets the value of the input, textarea or select sel, as typing or
// picking does (input and change events).
func fill(sel, value string) chromedp.Action[chromedp.Void] {
	js := fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.value = %q;
		e.dispatchEvent(new Event("input", {bubbles: true})); e.dispatchEvent(new Event("change", {bubbles: true})); })()`, sel, value)
	return chromedp.Steps(chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Evaluate[chromedp.Void](js))
}

// exists waits until an element matches sel (an option of a select, which
// is never visible by itself).
func exists(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](fmt.Sprintf(`!!document.querySelector(%q)`, sel), chromedp.WithPollingTimeout(waitTimeout), chromedp.WithPollingInterval(50*time.Millisecond))
}

func TestConsoleInABrowser(t *testing.T) {
	b := newBrowser(t)
	h := startVendorDaemon(t, withRingProfile)
	iphone := h.bind("bob", "iphone", push.APNs, apnsToken(201))
	h.bind("bob", "pixel", push.FCM, "fcm-console-1")
	msgID := h.send("alice", "bob", "hello from alice", pushCfg{"title": "Alice", "content": "hello from alice"})["message_id"].(string)
	h.records(push.FCM, "fcm-console-1", 1)
	h.records(push.APNs, apnsToken(201), 1)
	pixel := h.connect("bob", "pixel")
	pixel.message("inbox", 1)
	pixel.ack("inbox", 1)
	pixel.sync()
	pixel.close()
	console := h.base + "/console/"

	// A bad key is refused, clearly.
	b.do("open the console", chromedp.Navigate(console), chromedp.WaitVisible(chromedp.CSS("#api-key")))
	b.shot("sign-in")
	b.do("sign in with a bad key", fill("#api-key", "not-a-key-of-this-server"), chromedp.Click(chromedp.CSS("#login-form button[type=submit]")))
	b.waitText("#login-error", "API key was refused")
	b.shot("bad-key")

	// Overview: the configured providers with their verdicts.
	b.do("sign in", fill("#api-key", h.key), chromedp.Click(chromedp.CSS("#login-form button[type=submit]")))
	b.waitText(`#overview-table tr[data-provider="fcm"]`, "fcm")
	b.waitText("#app-name", "demo")
	if row := b.text(`#overview-table tr[data-provider="fcm"]`); !strings.Contains(row, "1") {
		t.Errorf("overview row of fcm: %q, want its delivered push", row)
	}
	for _, p := range []string{"apns", "hms", "xiaomi", "oppo", "vivo"} {
		b.waitText(fmt.Sprintf(`#overview-table tr[data-provider=%q]`, p), p)
	}
	b.shot("overview")

	// User lookup: devices with their verdicts, the inbox, the cursors.
	b.do("look up bob", chromedp.Navigate(console+"#user"), fill("#user-id", "bob"), chromedp.Click(chromedp.CSS("#user-form button[type=submit]")))
	b.waitText(`#user-devices tr[data-push-id="`+iphone+`"]`, "delivered")
	b.waitText("#user-devices", "pixel")
	b.waitText("#user-devices", "inbox 1")
	b.waitText("#user-streams", "hello from alice")
	b.shot("user-bob")
	b.do("look up nobody", fill("#user-id", "nobody"), chromedp.Click(chromedp.CSS("#user-form button[type=submit]")))
	b.waitText("#user-status", "No user nobody")
	b.shot("user-unknown")

	// Test push: a dry run with a profile shows the request, masked; a real
	// one reaches the simulator and shows its verdict; a refused one says so.
	b.do("dry run", chromedp.Navigate(console+"#push"),
		exists(`#push-resources option[value="ring"]`),
		fill("#push-id", iphone), fill("#push-resources", "ring"),
		fill("#push-title", "Console"), fill("#push-content", "from the console"), fill("#push-payload", `{"k":"v"}`),
		chromedp.Click(chromedp.CSS("#push-dry")))
	b.waitText("#push-status", "Dry run")
	b.waitText("#push-request", "ring.caf")
	req := b.text("#push-request")
	if !strings.Contains(req, "apns-topic") || !strings.Contains(req, "from the console") {
		t.Errorf("dry run request: %s", req)
	}
	if auth := lineWith(req, "authorization"); auth == "" || strings.Count(auth, ".") >= 2 {
		t.Errorf("the provider token is not masked: %q", auth)
	}
	if n := h.countRecords(push.APNs, apnsToken(201)); n != 1 {
		t.Errorf("the dry run reached the vendor: %d records", n)
	}
	b.shot("push-dry-run")

	b.do("send for real", chromedp.Click(chromedp.CSS("#push-send")))
	b.waitText("#push-verdict", "delivered")
	b.waitText("#push-status", "Delivered")
	if r := h.records(push.APNs, apnsToken(201), 2)[1]; !strings.Contains(string(r.Body), "from the console") {
		t.Errorf("the console's push at the vendor: %s", r.Body)
	}
	b.shot("push-delivered")

	// By user, VoIP: the push type and its CallKit fields.
	voip := h.bind("bob", "iphone", push.APNs, apnsToken(202), map[string]any{"push_type": "voip"})
	b.do("voip push to a user's device", chromedp.Click(chromedp.CSS(`input[name=target][value=user]`)), fill("#push-user", "bob"), chromedp.Click(chromedp.CSS("#push-load-devices")),
		exists(`#push-device option[value="`+voip+`"]`), fill("#push-device", voip),
		chromedp.Click(chromedp.CSS(`input[name=push_type][value=voip]`)), fill("#voip-handle-value", "alice"), fill("#push-resources", ""),
		chromedp.Click(chromedp.CSS("#push-send")))
	b.waitText("#push-summary", "voip")
	b.waitText("#push-verdict", "delivered")
	if r := h.records(push.APNs, apnsToken(202), 1)[0]; r.Headers["apns-push-type"] != "voip" {
		t.Errorf("the console's voip push: %v", r.Headers)
	}
	b.shot("push-voip")

	if err := h.sim().SetFault(vendorsim.Fault{Provider: push.APNs, Token: apnsToken(202), Status: 400, Reason: "BadTopic", Times: 1}); err != nil {
		t.Fatal(err)
	}
	b.do("a push the vendor refuses", chromedp.Click(chromedp.CSS("#push-send")))
	b.waitText("#push-status", "Not delivered")
	b.waitText("#push-verdict", "bad_request")
	b.shot("push-refused")

	// Message trace: each device's timeline for a real message, then a clear error for an
	// unknown id.
	h.waitTrace(msgID, "", "bob", "pixel", "delivered")
	h.waitTrace(msgID, "", "bob", "iphone", "delivered")
	b.do("trace", chromedp.Navigate(console+"#trace"), fill("#trace-id", msgID), chromedp.Click(chromedp.CSS("#trace-form button[type=submit]")))
	b.waitText(`#trace-result [data-device="bob/iphone"]`, "vendor attempt")
	b.waitText("#trace-counts", "delivered: 2")
	b.waitText("#trace-status", "2 devices")
	for _, dev := range []string{"iphone", "pixel"} {
		card := b.text(`#trace-result [data-device="bob/` + dev + `"]`)
		if !strings.Contains(card, "push job written") || !strings.Contains(card, "delivered") || strings.Index(card, "push job written") > strings.Index(card, "vendor attempt") {
			t.Errorf("trace of bob's %s: %q, want the push job, then the vendor attempt delivered", dev, card)
		}
	}
	b.shot("trace")
	b.do("trace an unknown message", fill("#trace-id", "06h1notamessage"), chromedp.Click(chromedp.CSS("#trace-form button[type=submit]")))
	b.waitText("#trace-status", "Unknown message 06h1notamessage")
	b.shot("trace-unknown")

	// Cluster: this daemon is a lone node.
	b.do("cluster", chromedp.Navigate(console+"#cluster"))
	b.waitText("#cluster-status", "One node")
	b.waitText("#cluster-nodes", "node-1")
	b.shot("cluster")

	// A phone: every page fits the screen's width.
	b.do("phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(3)))
	for _, page := range []string{"overview", "user", "push", "trace", "cluster"} {
		b.do("open "+page+" on a phone", chromedp.Navigate(console+"#"+page), chromedp.WaitVisible(chromedp.CSS("#page-"+page)))
		if page == "user" {
			b.do("look up bob on a phone", fill("#user-id", "bob"), chromedp.Click(chromedp.CSS("#user-form button[type=submit]")))
			b.waitText("#user-streams", "hello from alice")
		}
		if page == "overview" {
			b.waitText(`#overview-table tr[data-provider="fcm"]`, "fcm")
		}
		ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
		over, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
		cancel()
		if err != nil || over {
			t.Errorf("%s on a phone is wider than the screen (%v)", page, err)
		}
		b.shot("phone-" + page)
	}

	// Forgetting the key goes back to the sign-in.
	b.do("forget the key", chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#api-key")))
}

// lineWith is the first line of s that contains sub (case-insensitive).
func lineWith(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(strings.ToLower(l), sub) {
			return l
		}
	}
	return ""
}
