package actors

import (
	"testing"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/honor"
	"github.com/pushd-im/pushd/wire"
)

// TestHonorRulesComeFromItsDescriptor: a vendor added through the registry
// alone gets its quota day, IM class, title rule and batch size in the vendor
// actor, with no line of this package naming it.
func TestHonorRulesComeFromItsDescriptor(t *testing.T) {
	v := honor.Vendor()
	if got := classOf(v, &push.Notification{Category: "IM"}, push.Profile{}); got != classIM {
		t.Errorf("IM push: %s", got)
	}
	if got := classOf(v, &push.Notification{}, push.Profile{}); got != classPublic {
		t.Errorf("unclassified push: %s", got)
	}
	now := time.Date(2026, 11, 26, 15, 30, 0, 0, time.UTC) // 23:30 in China
	if d := untilNextVendorDay(v.QuotaZone, now); d != 30*time.Minute {
		t.Errorf("Honor's day turns in %v, want 30m (China time)", d)
	}
	app := &App{ID: "demo", Vendors: registry()}
	n := notification(app, &wire.PushJob{App: "demo", Provider: string(honor.Provider), Token: "t", PushConfig: &wire.PushConfig{Content: "only content"}})
	if n.Title != "only content" || n.Body != "only content" {
		t.Errorf("title rule: %q / %q", n.Title, n.Body)
	}
	if v.MaxBatch <= 1 {
		t.Errorf("MaxBatch %d: Honor takes many tokens a request", v.MaxBatch)
	}
}
