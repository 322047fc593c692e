// Package suite is pushd's benchmark suite: each scenario starts a fresh
// daemon (durable Pebble, default config, the vendor simulator in process) on
// loopback, measures it, and pairs each figure with a baseline measured in the
// same run where there is a natural one. Run writes a JSON result and an SVG
// chart; `pushd bench` runs it from the command line:
//
//	go run ./cmd/pushd bench --quick
//
// The scenarios (issue 5): ingest, online, push, fanout, drain, idle; and
// (issue 13) cluster, whose nodes are pushd child processes; (issue 15)
// slowloris, idle half-sent requests, and soak, mixed traffic against one
// daemon, its memory sampled; (issue 16) trace, the
// cost of recording message traces. Every count is
// bounded and scaled by Options.Scale (1 = the sizes, the quick run
// uses 0.1); every connection is to 127.0.0.1.
//
// Tests of this package never assert a timing: timings are measured here and
// judged by a human against the bars in the result.
package suite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"
)

// QuickScale is the scale of `pushd bench --quick`.
const QuickScale = 0.1

// Options say what Run measures and where it reports.
type Options struct {
	// Scenarios to run, by name (see Scenarios); empty runs them all, in the
	// suite's order.
	Scenarios []string
	// Scale multiplies every count (devices, messages, members, users): 1 is
	// the sizes, QuickScale the quick run. Rates and the 1,000-message
	// drain stay as they are. Default 1.
	Scale float64
	// OutDir receives result-<timestamp>.json and chart-<timestamp>.svg; empty
	// writes nothing.
	OutDir string
	// Progress receives a one-line progress bar redrawn with \r (a terminal's
	// stderr); nil draws nothing.
	Progress io.Writer
	// HelperCommand starts this program again as the WebSocket client fleet
	// of the online scenario (with PUSHD_BENCH_HELPER set, the program must
	// call RunHelper: see IsHelper), so that the clients' memory, goroutines
	// and file descriptors are not counted as the daemon's. Nil runs the
	// clients in this process and says so in the result.
	HelperCommand []string
	// PushdCommand runs pushd's own command line (its binary, with any
	// leading arguments): the cluster scenario appends `serve --config
	// <file>` to run each node as a child process it can kill -9. Nil fails
	// that scenario.
	PushdCommand []string
	// ProfileDir, when set, receives a CPU profile of each measured window
	// (pushd's side of a figure, not its setup or baseline), named
	// <scenario>-<window>.prof, and heap profiles (<scenario>-<name>.heap.prof,
	// the online scenario's with its devices connected).
	ProfileDir string
}

// Result is one run of the suite; it is what the JSON file holds.
type Result struct {
	Started   time.Time         `json:"started"`
	Finished  time.Time         `json:"finished"`
	DurationS float64           `json:"duration_s"`
	Scale     float64           `json:"scale"`
	Machine   Machine           `json:"machine"`
	Scenarios []*ScenarioResult `json:"scenarios"`
	// JSONPath and ChartPath are where Run wrote the files ("" when OutDir is empty).
	JSONPath  string `json:"-"`
	ChartPath string `json:"-"`
}

// Machine describes where the run happened.
type Machine struct {
	GOOS       string `json:"goos"`
	GOARCH     string `json:"goarch"`
	NumCPU     int    `json:"num_cpu"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	GoVersion  string `json:"go_version"`
	Module     string `json:"module,omitempty"`
	Revision   string `json:"vcs_revision,omitempty"`
}

// ScenarioResult is one scenario's figures.
type ScenarioResult struct {
	Name      string    `json:"name"`
	Title     string    `json:"title"`
	DurationS float64   `json:"duration_s"`
	Figures   []*Figure `json:"figures"`
	// Notes say how the figures were measured and anything scaled down.
	Notes []string `json:"notes,omitempty"`
	// Error is why the scenario stopped early ("" when it completed).
	Error string `json:"error,omitempty"`
}

// Figure is one measured figure, with its baseline and bar when it has them.
type Figure struct {
	Name string `json:"name"`
	// Unit of Value and Baseline: "msg/s", "push/s", "ms", "KiB/device", ….
	Unit  string  `json:"unit"`
	Value float64 `json:"value"`
	// Count is how many operations (messages, pushes, drains, …) the figure is over.
	Count int `json:"count,omitempty"`
	// Baseline is the same figure for the baseline, measured in the same run;
	// BaselineName says what the baseline is. Ratio = Value / Baseline.
	Baseline     float64 `json:"baseline,omitempty"`
	BaselineName string  `json:"baseline_name,omitempty"`
	Ratio        float64 `json:"ratio,omitempty"`
	// Latency percentiles of pushd and of the baseline, in milliseconds (0: not measured).
	P50Ms         float64 `json:"p50_ms,omitempty"`
	P99Ms         float64 `json:"p99_ms,omitempty"`
	BaselineP50Ms float64 `json:"baseline_p50_ms,omitempty"`
	BaselineP99Ms float64 `json:"baseline_p99_ms,omitempty"`
	// Bar is the target for this figure, when it has one.
	Bar *Bar `json:"bar,omitempty"`
	// Rounds are the paired measurements behind a figure measured in
	// rounds (baseline, then pushd, repeated): Value and Baseline are then
	// the medians, and Ratio the median of the rounds' ratios, so that the
	// load of a shared machine drifting during the run weighs on both sides
	// of each ratio alike.
	Rounds []Round `json:"rounds,omitempty"`
	// Samples are the rounds of a figure without a baseline measured in
	// rounds; Value is their median.
	Samples []float64 `json:"samples,omitempty"`
}

// Round is one paired measurement of a figure and its baseline.
type Round struct {
	Value    float64 `json:"value"`
	Baseline float64 `json:"baseline"`
	Ratio    float64 `json:"ratio"`
}

// rounds is how many paired rounds a ratio figure is measured in.
const rounds = 5

// addRounds sets the figure's Rounds, Value and Baseline from paired
// measurements (values[i] with baselines[i]).
func (f *Figure) addRounds(values, baselines []float64) {
	f.Rounds = f.Rounds[:0]
	for i := range values {
		f.Rounds = append(f.Rounds, Round{Value: values[i], Baseline: baselines[i], Ratio: values[i] / baselines[i]})
	}
	f.Value, f.Baseline = median(values), median(baselines)
}

// heapProfile writes the heap profile (live objects as of the last GC) as
// <scenario>-<name>.heap.prof when Options.ProfileDir is set.
func (e *env) heapProfile(name string) {
	if e.o.ProfileDir == "" {
		return
	}
	path := filepath.Join(e.o.ProfileDir, e.res.Name+"-"+name+".heap.prof")
	f, err := os.Create(path)
	if err == nil {
		err = pprof.Lookup("heap").WriteTo(f, 0)
		f.Close()
	}
	if err != nil {
		e.note("heap profile %s: %v", path, err)
	}
}

// inRounds measures f and its baseline in paired rounds, the baseline first,
// and adds f with its Rounds, the medians, and both sides' latency
// percentiles over all rounds. label prefixes the progress steps.
func (e *env) inRounds(f *Figure, label string, baseline, pushd func() (float64, []time.Duration, error)) error {
	var values, baselines []float64
	var plat, blat []time.Duration
	for r := 1; r <= rounds; r++ {
		e.step(fmt.Sprintf("%s: %s (round %d of %d)", label, f.BaselineName, r, rounds))
		b, lat, err := baseline()
		if err != nil {
			return fmt.Errorf("%s, %s: %w", label, f.BaselineName, err)
		}
		blat = append(blat, lat...)
		e.step(fmt.Sprintf("%s: pushd (round %d of %d)", label, r, rounds))
		v, lat, err := pushd()
		if err != nil {
			return fmt.Errorf("%s, pushd: %w", label, err)
		}
		plat = append(plat, lat...)
		values, baselines = append(values, v), append(baselines, b)
	}
	f.addRounds(values, baselines)
	f.P50Ms, f.P99Ms = pct(plat)
	f.BaselineP50Ms, f.BaselineP99Ms = pct(blat)
	e.add(f)
	return nil
}

// median of xs (the mean of the middle two for an even count); 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Bar is a target: the ratio at least Min, or the value at most Max.
type Bar struct {
	Text string `json:"text"`
	// On is "ratio" (Ratio >= Threshold), "value" (0 < Value <= Threshold) or
	// "trend" (Value <= Threshold: a slope, which may be negative).
	On        string  `json:"on"`
	Threshold float64 `json:"threshold"`
	Pass      bool    `json:"pass"`
}

func ratioBar(min float64) *Bar {
	return &Bar{Text: fmt.Sprintf("ratio ≥ %.2g", min), On: "ratio", Threshold: min}
}

// trendBar is a bar on a growth per cycle: at most max, and a shrinking one passes.
func trendBar(max float64, unit string) *Bar {
	return &Bar{Text: fmt.Sprintf("≤ %s %s", trimFloat(max), unit), On: "trend", Threshold: max}
}

func maxBar(max float64, unit string) *Bar {
	return &Bar{Text: fmt.Sprintf("≤ %s %s", trimFloat(max), unit), On: "value", Threshold: max}
}

// judge sets Ratio and Bar.Pass from the figures.
func (f *Figure) judge() {
	switch {
	case len(f.Rounds) > 0:
		var rs []float64
		for _, r := range f.Rounds {
			rs = append(rs, r.Ratio)
		}
		f.Ratio = median(rs)
	case f.Baseline > 0:
		f.Ratio = f.Value / f.Baseline
	}
	if f.Bar == nil {
		return
	}
	switch f.Bar.On {
	case "ratio":
		f.Bar.Pass = f.Baseline > 0 && f.Ratio >= f.Bar.Threshold
	case "value":
		f.Bar.Pass = f.Value > 0 && f.Value <= f.Bar.Threshold
	case "trend":
		f.Bar.Pass = f.Value <= f.Bar.Threshold
	}
}

// scenario is one entry of the suite.
type scenario struct {
	name, title string
	// steps is how many progress steps run makes at scale s (an estimate; the
	// bar is corrected when the scenario ends).
	steps int
	run   func(ctx context.Context, e *env) error
}

// Scenarios lists the scenario names in the order the suite runs them.
func Scenarios() []string {
	var out []string
	for _, s := range registry() {
		out = append(out, s.name)
	}
	return out
}

func registry() []scenario {
	return []scenario{
		{"ingest", "Ingest: durable one-to-one sends over HTTP", 13, runIngest},
		{"online", "Online delivery over WebSocket", 6, runOnline},
		{"push", "Push throughput to the vendor simulator", 20, runPush},
		{"fanout", "Group fan-out to offline members, six providers", 21, runFanout},
		{"drain", "Reconnect drain of 1,000 stored messages", 4, runDrain},
		{"idle", "Idle scale: registered users with bindings, actors passivated", 5, runIdle},
		{"cluster", "Cluster: three replicating nodes on this machine, failover, rebalance", 25, runCluster},
		{"slowloris", "Slowloris: 20,000 half-sent requests held open; /healthz and sends meanwhile", 6, runSlowloris},
		{"soak", "Soak: 10 minutes of mixed traffic and vendor faults; memory and goroutine trends", 64, runSoak},
		{"trace", "Message trace's cost: ingest and fan-out, trace on against trace: false", 46, runTrace},
	}
}

// env is what a scenario works with.
type env struct {
	o   Options
	res *ScenarioResult
	p   *progress
}

// scaled is full × Scale, at least min.
func (e *env) scaled(full, min int) int {
	return max(min, int(float64(full)*e.o.Scale+0.5))
}

func (e *env) note(format string, args ...any) {
	e.res.Notes = append(e.res.Notes, fmt.Sprintf(format, args...))
}

func (e *env) add(f *Figure) *Figure {
	e.res.Figures = append(e.res.Figures, f)
	return f
}

func (e *env) step(label string) { e.p.step(e.res.Name + ": " + label) }

// profile starts a CPU profile of one measured window when Options.ProfileDir
// is set; the returned func stops it (the first call does). A profile that
// cannot start is noted, not fatal.
func (e *env) profile(window string) (stop func()) {
	if e.o.ProfileDir == "" {
		return func() {}
	}
	path := filepath.Join(e.o.ProfileDir, e.res.Name+"-"+window+".prof")
	f, err := os.Create(path)
	if err == nil {
		if err = pprof.StartCPUProfile(f); err != nil {
			f.Close()
		}
	}
	if err != nil {
		e.note("profile %s: %v", path, err)
		return func() {}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			pprof.StopCPUProfile()
			f.Close()
		})
	}
}

// Run runs the chosen scenarios one after the other, each on a fresh daemon,
// and writes the JSON result and the SVG chart to OutDir. A scenario that
// fails is recorded with its error and the others still run; the error
// returned then names every failed scenario (the result is returned as well).
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Scale == 0 {
		o.Scale = 1
	}
	if o.Scale < 0 || o.Scale > 10 {
		return nil, fmt.Errorf("suite: Scale must be in (0, 10], got %g", o.Scale)
	}
	var chosen []scenario
	all := registry()
	if len(o.Scenarios) == 0 {
		chosen = all
	} else {
		for _, s := range all {
			if slices.Contains(o.Scenarios, s.name) {
				chosen = append(chosen, s)
			}
		}
		for _, name := range o.Scenarios {
			if !slices.ContainsFunc(all, func(s scenario) bool { return s.name == name }) {
				return nil, fmt.Errorf("suite: unknown scenario %q (have %s)", name, strings.Join(Scenarios(), ", "))
			}
		}
	}
	raiseFileLimit()
	r := &Result{Started: time.Now(), Scale: o.Scale, Machine: machine()}
	total := 0
	for _, s := range chosen {
		total += s.steps
	}
	p := newProgress(o.Progress, total)
	var errs []error
	planned := 0
	for _, s := range chosen {
		planned += s.steps
		sr := &ScenarioResult{Name: s.name, Title: s.title}
		r.Scenarios = append(r.Scenarios, sr)
		e := &env{o: o, res: sr, p: p}
		start := time.Now()
		err := runOne(ctx, s, e)
		sr.DurationS = round3(time.Since(start).Seconds())
		for _, f := range sr.Figures {
			f.judge()
		}
		if err != nil {
			sr.Error = err.Error()
			errs = append(errs, fmt.Errorf("%s: %w", s.name, err))
		}
		p.reach(planned, s.name+": done")
		if ctx.Err() != nil {
			break
		}
	}
	p.finish()
	r.Finished = time.Now()
	r.DurationS = round3(r.Finished.Sub(r.Started).Seconds())
	if o.OutDir != "" {
		if err := r.write(o.OutDir); err != nil {
			errs = append(errs, err)
		}
	}
	return r, errors.Join(errs...)
}

// runOne runs one scenario, turning a panic into its error.
func runOne(ctx context.Context, s scenario, e *env) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v\n%s", v, debug.Stack())
		}
	}()
	return s.run(ctx, e)
}

// write saves the JSON result and the chart under dir, named by the start time.
func (r *Result) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("suite: out dir: %w", err)
	}
	stamp := r.Started.Format("20060102-150405")
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	jp := filepath.Join(dir, "result-"+stamp+".json")
	if err := os.WriteFile(jp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("suite: %w", err)
	}
	cp := filepath.Join(dir, "chart-"+stamp+".svg")
	if err := os.WriteFile(cp, r.SVG(), 0o644); err != nil {
		return fmt.Errorf("suite: %w", err)
	}
	r.JSONPath, r.ChartPath = jp, cp
	return nil
}

func machine() Machine {
	m := Machine{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		m.Module = bi.Main.Path
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				m.Revision = s.Value
			}
		}
	}
	return m
}

func round3(v float64) float64 { return float64(int64(v*1000+0.5)) / 1000 }
