package storage

import (
	"errors"
	"reflect"
	"testing"
)

func TestTraceEventsRoundTrip(t *testing.T) {
	evs := []TraceEvent{
		{Kind: TraceFrameSent, AtMs: 1000, User: "bob", Device: "phone"},
		{Kind: TracePushJob, AtMs: 1000, User: "bob", Device: "phone", PushID: "p1", Provider: "apns", UntilMs: 6000},
		{Kind: TraceVendor, AtMs: 999, User: "bob", PushID: "p1", Verdict: "invalid", Detail: "BadDeviceToken", Attempt: 2},
		{Kind: TraceSkipped, AtMs: 1003, User: "ann", Detail: SkipNoBinding},
	}
	b := EncodeTraceEvents(1000, evs)
	got, err := DecodeTraceEvents(1000, b)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if !reflect.DeepEqual(got, evs) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, evs)
	}
	for _, bad := range [][]byte{nil, {0}, {traceVersion}, {traceVersion, 2, 1}, append(b[:len(b):len(b)], 0)} {
		if _, err := DecodeTraceEvents(0, bad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("decode %x: err %v, want ErrCorrupt", bad, err)
		}
	}
}

func TestTraceReadsEveryShardInTimeOrder(t *testing.T) {
	s := openStore(t, "")
	write(t, s, func(b *Batch) {
		// Recorded out of time order and in two shards, as a user actor and a vendor actor would.
		b.PutTrace(7, "app", "m1", 3000, "v/p1/1", []TraceEvent{{Kind: TraceVendor, AtMs: 3000, User: "bob", PushID: "p1", Verdict: "delivered", Attempt: 1}})
		b.PutTrace(2, "app", "m1", 1000, "d/bob", []TraceEvent{
			{Kind: TraceFrameSent, AtMs: 1000, User: "bob", Device: "tab"},
			{Kind: TracePushJob, AtMs: 1000, User: "bob", Device: "phone", PushID: "p1"},
		})
		b.PutTrace(2, "app", "m2", 1000, "d/bob", []TraceEvent{{Kind: TraceSkipped, AtMs: 1000, User: "bob", Detail: SkipNoPushConfig}})
		b.PutTrace(2, "other", "m1", 1000, "d/bob", []TraceEvent{{Kind: TraceSkipped, AtMs: 1000, User: "x"}})
	})
	got, err := s.Trace("app", "m1")
	if err != nil {
		t.Fatalf("Trace: %v", err)
	}
	var kinds []string
	for _, e := range got {
		kinds = append(kinds, e.Kind.String()+"@"+e.Device+e.PushID)
	}
	want := []string{"frame_sent@tab", "push_job@phonep1", "vendor_attempt@p1"}
	if !reflect.DeepEqual(kinds, want) {
		t.Fatalf("events %v, want %v", kinds, want)
	}
	if _, err := s.Trace("app", "nope"); !errors.Is(err, ErrTraceNotFound) {
		t.Fatalf("unknown message: err %v, want ErrTraceNotFound", err)
	}
}

func TestSweepDropsTraceWithItsMessages(t *testing.T) {
	s := openStore(t, "")
	write(t, s, func(b *Batch) {
		b.PutTrace(3, "app", "old", 1000, "d/bob", []TraceEvent{{Kind: TraceFrameSent, AtMs: 1000, User: "bob"}})
		b.PutTrace(3, "app", "new", 5000, "d/bob", []TraceEvent{{Kind: TraceFrameSent, AtMs: 5000, User: "bob"}})
	})
	res, err := s.Sweep(2000, 0)
	if err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	if res.Trace != 1 {
		t.Fatalf("swept %d trace records, want 1", res.Trace)
	}
	if _, err := s.Trace("app", "old"); !errors.Is(err, ErrTraceNotFound) {
		t.Fatalf("old trace: err %v, want it swept", err)
	}
	if _, err := s.Trace("app", "new"); err != nil {
		t.Fatalf("new trace: %v", err)
	}
}

// FuzzTraceRecord: a stored trace record read back from a damaged disk is refused or decoded,
// never a panic, and what decodes encodes back to the same events.
func FuzzTraceRecord(f *testing.F) {
	f.Add(int64(1000), EncodeTraceEvents(1000, []TraceEvent{{Kind: TraceVendor, AtMs: 1200, User: "u", PushID: "p", Verdict: "delivered", Attempt: 1}}))
	f.Add(int64(0), []byte{traceVersion, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add(int64(-5), []byte{traceVersion, 1, 2, 0x80})
	f.Fuzz(func(t *testing.T, at int64, b []byte) {
		evs, err := DecodeTraceEvents(at, b)
		if err != nil {
			return
		}
		again, err := DecodeTraceEvents(at, EncodeTraceEvents(at, evs))
		if err != nil || !reflect.DeepEqual(again, evs) && len(evs) > 0 {
			t.Fatalf("re-decode: %v\n got %+v\nwant %+v", err, again, evs)
		}
	})
}
