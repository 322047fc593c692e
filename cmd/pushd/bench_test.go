package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pushd-im/pushd/benchmarks/suite"
)

// TestBenchClusterScenario runs the suite's cluster scenario at its smallest
// scale with the pushd binary this package's tests built (the scenario runs
// its nodes as `pushd serve` children): it must complete with every figure,
// and leave no child running. It never judges a timing. About 35 s on 2
// cores, so -short skips it.
func TestBenchClusterScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("starts five pushd processes and loads them for half a minute: skipped with -short")
	}
	if raceEnabled {
		t.Skip("the race detector slows the three nodes past the scenario's own waits")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := suite.Run(ctx, suite.Options{Scenarios: []string{"cluster"}, Scale: 0.001, PushdCommand: []string{pushdBin}})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Scenarios[0]
	if s.Error != "" {
		t.Fatalf("cluster scenario: %s", s.Error)
	}
	units := map[string]int{}
	for _, f := range s.Figures {
		units[f.Unit]++
		if f.Value <= 0 || (f.Unit == "msg/s" && (f.Baseline <= 0 || f.P99Ms <= 0 || f.BaselineP99Ms <= 0)) {
			t.Errorf("figure %q: value %v, baseline %v, p99 %v / %v", f.Name, f.Value, f.Baseline, f.P99Ms, f.BaselineP99Ms)
		}
	}
	// Throughput single and batched; failover first, median, last; binding; rebalance.
	if units["msg/s"] != 2 || units["ms"] != 3 || units["bind/s"] != 1 || units["s"] != 1 {
		t.Errorf("figures by unit: %v", units)
	}
	var table bytes.Buffer
	if err := res.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", table.String())
	if left := benchChildren(t); len(left) > 0 {
		t.Errorf("cluster nodes still running after the scenario: %v", left)
	}
}

// benchChildren lists this process's children that run a config of the
// cluster scenario.
func benchChildren(t *testing.T) []string {
	t.Helper()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []string
	for _, st := range stats {
		b, err := os.ReadFile(st)
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join(filepath.Dir(st), "cmdline"))
		if bytes.Contains(cmdline, []byte("pushd-bench-cluster-")) {
			out = append(out, strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	return out
}
