package daemon_test

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/pushd-im/pushd/config"
	"github.com/pushd-im/pushd/push"
)

// A daemon whose disk fills up answers new sends 503 storage_unavailable and keeps serving
// reads and the metrics, without crashing; once space returns, sends are taken again, with no
// restart. The data dir is a small tmpfs that the test fills with a file.
func TestFullDiskRefusesSendsAndRecovers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root (CI runs as root); storage's TestLowDiskRefusesNewDataOnly covers the store")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=160m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	const reserve = 64 << 20
	h := startDaemon(t, func(c *config.Config) {
		c.DataDir = filepath.Join(dir, "data")
		c.Limits.MinFreeDiskBytes = reserve
	})
	h.bind("bob", "phone", push.APNs, "a1b2c3")
	h.send("alice", "bob", "before", nil)

	// Fill the disk to just under the reserve.
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	ballast := filepath.Join(dir, "ballast")
	fill := int64(st.Bavail*uint64(st.Bsize)) - reserve + 8<<20
	if err := os.WriteFile(ballast, make([]byte, fill), 0o600); err != nil {
		t.Fatal(err)
	}
	body := map[string]any{"from": "alice", "to": "bob", "conversation_type": 0, "type": 1, "body": "full"}
	// The store reads the free space at most every 250 ms while it had room.
	h.eventually("a send refused 503 storage_unavailable", func() bool {
		code, out := h.call("POST", "/v1/messages", "key", body)
		e, _ := out["error"].(map[string]any)
		if code != http.StatusOK && (code != http.StatusServiceUnavailable || e["code"] != "storage_unavailable") {
			t.Fatalf("send on a full disk: %d %v, want 503 storage_unavailable", code, out)
		}
		return code == http.StatusServiceUnavailable
	})
	if devs := h.devices("bob"); len(devs) != 1 {
		t.Fatalf("reads on a full disk: %v", devs)
	}
	if low, _ := h.metric("pushd_storage_low_space"); low != 1 {
		t.Fatal("metrics do not show the low disk")
	}
	if refused, _ := h.metric("pushd_storage_refused_no_space_total"); refused < 1 {
		t.Fatal("metrics do not count the refused send")
	}

	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	h.send("alice", "bob", "after", nil)
	if low, _ := h.metric("pushd_storage_low_space"); low != 0 {
		t.Fatal("metrics still show the low disk")
	}
}
