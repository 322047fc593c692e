package testwait

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestUntilReturnsOnceTheConditionHolds(t *testing.T) {
	var polls atomic.Int32
	Until(t, 10*time.Second, func() error {
		if polls.Add(1) < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if n := polls.Load(); n != 3 {
		t.Fatalf("cond polled %d times, want 3: Until went on after it held", n)
	}
}

// failRecorder is a testing.TB that records a Fatalf instead of ending the test.
type failRecorder struct {
	testing.TB
	msg string
}

func (f *failRecorder) Helper() {}
func (f *failRecorder) Fatalf(format string, args ...any) {
	f.msg = format
	for _, a := range args {
		if err, ok := a.(error); ok {
			f.msg += " " + err.Error()
		}
	}
	// Fatalf must not return; runtime.Goexit would end this test too, so
	// unwind to the caller with a panic it recovers.
	panic(f)
}

func TestUntilFailsWithTheConditionsLastError(t *testing.T) {
	f := &failRecorder{TB: t}
	func() {
		defer func() {
			if r := recover(); r != f {
				t.Fatalf("Until returned or panicked with %v, want a Fatalf", r)
			}
		}()
		Until(f, 20*time.Millisecond, func() error { return errors.New("the disk is still spinning") })
	}()
	if !strings.Contains(f.msg, "the disk is still spinning") {
		t.Fatalf("failure %q does not carry the condition's error", f.msg)
	}
}
