package storage

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/pushd-im/pushd/wire"
)

// walWrites fails every write and sync of a WAL file once toggled on.
func walWrites() *errorfs.Toggle {
	return &errorfs.Toggle{Injector: errorfs.InjectorFunc(func(op errorfs.Op) error {
		if strings.HasSuffix(op.Path, ".log") && op.Kind.ReadOrWrite() == errorfs.OpIsWrite {
			return errorfs.ErrInjected
		}
		return nil
	})}
}

const failingWALChild = "PUSHD_STORAGE_FAILING_WAL_DIR"

// TestCommitOnFailingWAL runs a store whose WAL stops accepting writes in a
// child process. Pebble treats a failed WAL write as fatal (its commit
// pipeline cannot continue: Logger.Fatalf), and pushd's logger panics on
// Fatalf, so the process must die promptly, not hang in Commit, and what was
// durably committed before must be there on the next Open.
func TestCommitOnFailingWAL(t *testing.T) {
	if dir := os.Getenv(failingWALChild); dir != "" {
		failingWALChildMain(t, dir)
		return
	}
	if testing.Short() {
		t.Skip("runs a child process")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCommitOnFailingWAL$", "-test.v")
	cmd.Env = append(os.Environ(), failingWALChild+"="+dir)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("child hung on a failing WAL:\n%s", out)
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("child exited %v, want a crash:\n%s", err, out)
	}
	if !strings.Contains(string(out), "before the WAL failed") {
		t.Fatalf("child did not get as far as the failing commit:\n%s", out)
	}
	if !strings.Contains(string(out), "fatal commit error") && !strings.Contains(string(out), "Commit returned an error") {
		t.Fatalf("child died, but not of the failing commit:\n%s", out)
	}

	s := openStore(t, dir)
	if c, err := s.Cursor("app", "u", "d", "inbox"); err != nil || c != 1 {
		t.Errorf("Cursor after the crash = %d, %v; want 1, committed durably before the WAL failed", c, err)
	}
}

func failingWALChildMain(t *testing.T, dir string) {
	inj := walWrites()
	s, err := Open(dir, Options{fs: errorfs.Wrap(vfs.Default, inj)})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	write(t, s, func(b *Batch) { b.SetCursor("app", "u", "d", "inbox", 1) })
	t.Log("committed before the WAL failed")
	inj.On()
	b := s.NewBatch()
	b.SetCursor("app", "u", "d", "inbox", 2)
	err = s.Commit(b, true)
	if err != nil {
		// Not what Pebble does today, but an error is an acceptable answer too.
		t.Logf("Commit returned an error: %v", err)
		os.Exit(3)
	}
	t.Logf("Commit returned %v on a failing WAL", err)
	os.Exit(0)
}

func TestOpenOnFailingFS(t *testing.T) {
	inj := errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind.ReadOrWrite() == errorfs.OpIsWrite {
			return errorfs.ErrInjected
		}
		return nil
	})
	s, err := Open("db", Options{fs: errorfs.Wrap(vfs.NewMem(), inj)})
	if err == nil {
		s.Close()
		t.Fatal("Open on a filesystem that refuses every write succeeded")
	}
	if !errors.Is(err, errorfs.ErrInjected) {
		t.Errorf("Open error = %v, want it to wrap the filesystem's error", err)
	}
}

// TestReadErrorsSurface checks that a disk that fails reads gives the readers
// an error, neither a panic nor a silent "not found".
func TestReadErrorsSurface(t *testing.T) {
	mem := vfs.NewMem()
	reads := &errorfs.Toggle{Injector: errorfs.InjectorFunc(func(op errorfs.Op) error {
		if strings.HasSuffix(op.Path, ".sst") && op.Kind.ReadOrWrite() == errorfs.OpIsRead {
			return errorfs.ErrInjected
		}
		return nil
	})}
	fs := errorfs.Wrap(mem, reads)
	s, err := Open("db", Options{fs: fs})
	if err != nil {
		t.Fatal(err)
	}
	write(t, s, func(b *Batch) {
		b.PutBinding(&wire.Binding{App: "app", User: "u", PushId: "p1"})
		b.PutMessage("app", "u", &wire.Message{Stream: "inbox", Seq: 1})
		b.SetCursor("app", "u", "d", "inbox", 1)
	})
	if err := s.db.Flush(); err != nil { // into an sstable, out of the memtable
		t.Fatal(err)
	}
	s.Close()

	s, err = Open("db", Options{fs: fs, CacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	reads.On()
	defer reads.Off()
	checks := map[string]func() error{
		"Binding": func() error { _, _, err := s.Binding("app", "u", "p1"); return err },
		"UserBindings": func() error {
			_, err := s.UserBindings("app", "u")
			return err
		},
		"ReadStream": func() error {
			return s.ReadStream("app", "u", "inbox", 0, ^uint64(0), func(*wire.Message) bool { return true })
		},
		"LastSeq": func() error { _, err := s.LastSeq("app", "u", "inbox"); return err },
		"Cursor":  func() error { _, err := s.Cursor("app", "u", "d", "inbox"); return err },
		"Cursors": func() error { _, err := s.Cursors("app", "u"); return err },
	}
	for name, read := range checks {
		if err := read(); !errors.Is(err, errorfs.ErrInjected) {
			t.Errorf("%s on a failing disk = %v, want the injected error", name, err)
		}
	}
}
