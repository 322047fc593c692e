package suite

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMain lets this test binary serve as the suite's WebSocket client helper.
func TestMain(m *testing.M) {
	if IsHelper() {
		os.Exit(RunHelper())
	}
	os.Exit(m.Run())
}

// TestRunSmallest runs two cheap scenarios at the smallest scale, the online
// one with its clients in a helper process, and checks only that the suite
// completes and writes a JSON result and an SVG chart that parse. It never
// judges a timing.
func TestRunSmallest(t *testing.T) {
	if testing.Short() {
		t.Skip("starts daemons and loads them for several seconds: skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out := t.TempDir()
	var progress bytes.Buffer
	res, err := Run(ctx, Options{Scenarios: []string{"ingest", "online"}, Scale: 0.001, OutDir: out, Progress: &progress,
		HelperCommand: []string{os.Args[0]}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Scenarios) != 2 {
		t.Fatalf("%d scenarios in the result, want 2", len(res.Scenarios))
	}
	for _, s := range res.Scenarios {
		if s.Error != "" || len(s.Figures) == 0 {
			t.Errorf("scenario %s: error %q, %d figures", s.Name, s.Error, len(s.Figures))
		}
		for _, f := range s.Figures {
			// Memory per device over 100 devices is within the noise of
			// the heap (other tests' goroutines ending in this process can
			// make it negative); it must only be a number.
			noise := f.Unit == "KiB/device"
			if f.Unit == "" || math.IsNaN(f.Value) || (!noise && f.Value <= 0) {
				t.Errorf("%s: figure %q has value %v %q", s.Name, f.Name, f.Value, f.Unit)
			}
		}
	}
	if !strings.Contains(progress.String(), "\r[") {
		t.Errorf("no progress bar drawn: %q", progress.String())
	}

	// The files: named by the start time, JSON that decodes to a Result, SVG that is XML.
	if filepath.Dir(res.JSONPath) != out || filepath.Dir(res.ChartPath) != out {
		t.Fatalf("files written to %s and %s, want %s", res.JSONPath, res.ChartPath, out)
	}
	b, err := os.ReadFile(res.JSONPath)
	if err != nil {
		t.Fatal(err)
	}
	var back Result
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("result JSON: %v", err)
	}
	if len(back.Scenarios) != 2 || back.Scenarios[0].Name != "ingest" || len(back.Scenarios[0].Figures) != len(res.Scenarios[0].Figures) {
		t.Errorf("result JSON does not round-trip: %s", b)
	}
	svg, err := os.ReadFile(res.ChartPath)
	if err != nil {
		t.Fatal(err)
	}
	checkXML(t, svg)
	if !bytes.HasPrefix(svg, []byte("<svg ")) || !bytes.Contains(svg, []byte("<rect")) {
		t.Errorf("chart is not an SVG with bars: %.200s", svg)
	}

	var table bytes.Buffer
	if err := res.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"scenario", "ingest", "online", "ratio ≥ 0.5"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
}

func TestRunRefusesUnknownScenario(t *testing.T) {
	if _, err := Run(context.Background(), Options{Scenarios: []string{"nope"}}); err == nil {
		t.Fatal("an unknown scenario was accepted")
	}
}

// TestReportWithoutRun renders a hand-made result: every kind of figure, a
// failed scenario, text that needs escaping.
func TestReportWithoutRun(t *testing.T) {
	r := &Result{Scale: 1, Scenarios: []*ScenarioResult{
		{Name: "a", Title: "A <&> B", Figures: []*Figure{
			{Name: "x/s", Unit: "msg/s", Value: 10, Baseline: 20, P50Ms: 1, P99Ms: 2, BaselineP50Ms: 0.5, BaselineP99Ms: 1, Bar: ratioBar(0.5)},
			{Name: "time", Unit: "ms", Value: 50, Bar: maxBar(100, "ms")},
			{Name: "mem", Unit: "KiB/device", Value: 30, Bar: maxBar(20, "KiB")},
		}},
		{Name: "b", Title: "B", Error: "it broke\nsecond line"},
	}}
	for _, s := range r.Scenarios {
		for _, f := range s.Figures {
			f.judge()
		}
	}
	f := r.Scenarios[0].Figures
	if f[0].Ratio != 0.5 || !f[0].Bar.Pass || !f[1].Bar.Pass || f[2].Bar.Pass {
		t.Errorf("judged: ratio %v, passes %v %v %v", f[0].Ratio, f[0].Bar.Pass, f[1].Bar.Pass, f[2].Bar.Pass)
	}
	checkXML(t, r.SVG())
	var table bytes.Buffer
	if err := r.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "ERROR: it broke") || strings.Contains(table.String(), "second line") {
		t.Errorf("table:\n%s", table.String())
	}
	if pass, fail, errs := r.Summary(); pass != 2 || fail != 1 || errs != 1 {
		t.Errorf("summary %d %d %d", pass, fail, errs)
	}
}

func checkXML(t *testing.T, b []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("chart is not well-formed XML: %v", err)
		}
	}
}

// TestSoakSmallest runs the soak scenario at its smallest scale (three 10 s
// cycles of mixed traffic and vendor faults): it must complete with its three
// trends, each over its samples. It judges no trend: three cycles are too few.
func TestSoakSmallest(t *testing.T) {
	if testing.Short() {
		t.Skip("loads a daemon for half a minute: skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := Run(ctx, Options{Scenarios: []string{"soak"}, Scale: 0.001})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Scenarios[0]
	if s.Error != "" || len(s.Figures) != 3 {
		t.Fatalf("soak scenario: error %q, %d figures", s.Error, len(s.Figures))
	}
	for _, f := range s.Figures {
		if len(f.Samples) < 2 {
			t.Errorf("figure %q: %d samples", f.Name, len(f.Samples))
		}
	}
	for _, n := range s.Notes {
		if strings.Contains(n, "failed: ") && !strings.Contains(n, "failed: 0;") {
			t.Errorf("sends failed: %s", n)
		}
	}
}
