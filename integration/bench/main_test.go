// Package bench_test measures eso-bridge against the figures DESIGN.md
// promises, on the local control plane: latency from an ESO write to the
// workload patch at 5,000 ExternalSecrets and workloads, resident memory
// against secret size, AWS calls per poll cycle, detection from a vault change
// to the ESO-written Secret, and restarts per rotation.
//
// The figures are reported, never asserted: run them with `task bench`, which
// prints a table and stores it as JSON. With -bench.quick the sizes shrink so
// that CI checks the benchmarks still run.
package bench_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/eso-bridge/eso-bridge/integration/controlplane"
	"github.com/eso-bridge/eso-bridge/integration/harness"
)

var (
	jsonOut = flag.String("bench.json", "", "also write the figures as JSON to this file")
	quick   = flag.Bool("bench.quick", false, "small sizes: checks that the benchmarks run, measures little")
)

// TestMain runs a child process when the benchmarks started one (see
// child.go), runs nothing when no benchmark is selected, and otherwise starts
// the local control plane, runs the benchmarks and prints their figures.
func TestMain(m *testing.M) {
	if mode := os.Getenv(childModeEnv); mode != "" {
		os.Exit(runChild(mode, os.Args[1:]))
	}
	flag.Parse()
	if flag.Lookup("test.bench").Value.String() == "" {
		// `go test ./...` compiles this package; without -bench there is
		// nothing to run and no control plane to start.
		os.Exit(m.Run())
	}
	started := time.Now()
	// moto serves Secrets Manager, SQS and EventBridge for the event
	// benchmark; the audit log times the controller's reactions by the API
	// server's clock.
	code := harness.Run(m, controlplane.Options{Audit: true})
	if err := printFigures(os.Stdout, *jsonOut, started); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

// size is full at a real run and small with -bench.quick.
func size(full, small int) int {
	if *quick {
		return small
	}
	return full
}

// Figure is one measured number.
type Figure struct {
	// Benchmark is the benchmark's name, with its case (e.g. "AWSCalls/secrets=100").
	Benchmark string `json:"benchmark"`
	// Name says what was measured, e.g. "write→patch p99".
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	// Unit is the unit of Value, e.g. "ms".
	Unit string `json:"unit"`
	// Measured is the start of the run that measured it: a run of some
	// benchmarks keeps the others' figures from earlier runs in the file.
	Measured time.Time `json:"measured"`
}

// Report is what the JSON file holds.
type Report struct {
	Date    time.Time `json:"date"`
	GoOS    string    `json:"goos"`
	GoArch  string    `json:"goarch"`
	CPUs    int       `json:"cpus"`
	Quick   bool      `json:"quick"`
	Elapsed string    `json:"elapsed"`
	Figures []Figure  `json:"figures"`
	// Reloader compares the figures with Stakater Reloader's, when
	// BenchmarkBesideReloader ran.
	Reloader *Comparison `json:"reloader,omitempty"`
}

// Comparison sets figures beside another tool's.
type Comparison struct {
	// Bed says where and how the other tool's figures were measured.
	Bed  string          `json:"bed"`
	Rows []ComparisonRow `json:"rows"`
}

// ComparisonRow is one figure of both tools.
type ComparisonRow struct {
	Label     string  `json:"label"`
	Reloader  float64 `json:"reloader"`
	ESOBridge float64 `json:"esoBridge"`
	// Ratio is eso-bridge's figure over Reloader's: below 1, eso-bridge
	// needs less.
	Ratio float64 `json:"ratio"`
	Unit  string  `json:"unit"`
}

// compareWithReloader sets the measured figures beside reloaderFigures;
// nil when none of them was measured.
func compareWithReloader(measured []Figure) *Comparison {
	var rows []ComparisonRow
	for _, ref := range reloaderFigures {
		for _, f := range measured {
			if f.Benchmark+"/"+f.Name == ref.Figure {
				rows = append(rows, ComparisonRow{Label: ref.Label, Reloader: ref.Value, ESOBridge: f.Value,
					Ratio: float64(int(f.Value/ref.Value*100+0.5)) / 100, Unit: ref.Unit})
			}
		}
	}
	if len(rows) == 0 {
		return nil
	}
	return &Comparison{Bed: reloaderBed, Rows: rows}
}

var (
	figuresMu sync.Mutex
	figures   []Figure
)

// report records one figure and shows it in `go test -bench` output too. A
// benchmark measures once per run (`-benchtime 1x`); should the framework
// run it again, the last run's figure wins.
func report(b *testing.B, name string, value float64, unit string) {
	b.Helper()
	b.ReportMetric(value, strings.ReplaceAll(name, " ", "_")+"_"+unit)
	figuresMu.Lock()
	defer figuresMu.Unlock()
	bench := strings.TrimPrefix(b.Name(), "Benchmark")
	for i, f := range figures {
		if f.Benchmark == bench && f.Name == name {
			figures[i].Value, figures[i].Unit = value, unit
			return
		}
	}
	figures = append(figures, Figure{Benchmark: bench, Name: name, Value: value, Unit: unit})
}

// printFigures prints the figures as a table and writes them as JSON.
func printFigures(w *os.File, jsonPath string, started time.Time) error {
	figuresMu.Lock()
	defer figuresMu.Unlock()
	if len(figures) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "benchmark\tfigure\tvalue\tunit\t")
	for _, f := range figures {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", f.Benchmark, f.Name, formatValue(f.Value), f.Unit)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// The file keeps the figures of benchmarks this run did not measure:
	// the comparison is made of all of them.
	sorted := append([]Figure(nil), figures...)
	for i := range sorted {
		sorted[i].Measured = started.UTC().Truncate(time.Second)
	}
	if jsonPath != "" {
		sorted = append(sorted, earlierFigures(jsonPath, sorted)...)
	}
	comparison := compareWithReloader(sorted)
	if comparison != nil {
		fmt.Fprintf(w, "\nbeside Stakater Reloader (%s)\n", comparison.Bed)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "figure\tReloader\teso-bridge\teso-bridge / Reloader\tunit\t")
		for _, r := range comparison.Rows {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f\t%s\t\n", r.Label, formatValue(r.Reloader), formatValue(r.ESOBridge), r.Ratio, r.Unit)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if jsonPath == "" {
		return nil
	}
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Benchmark < sorted[j].Benchmark })
	data, err := json.MarshalIndent(Report{
		Date: started.UTC().Truncate(time.Second), GoOS: runtime.GOOS, GoArch: runtime.GOARCH, CPUs: runtime.NumCPU(),
		Quick: *quick, Elapsed: time.Since(started).Round(time.Second).String(), Figures: sorted, Reloader: comparison,
	}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(jsonPath, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing the figures: %w", err)
	}
	fmt.Fprintf(w, "figures written to %s\n", jsonPath)
	return nil
}

// earlierFigures are the figures in the file at path, from a full run, of
// the benchmarks that measured none of fresh.
func earlierFigures(path string, fresh []Figure) []Figure {
	data, err := os.ReadFile(path)
	if err != nil || *quick {
		return nil
	}
	var earlier Report
	if json.Unmarshal(data, &earlier) != nil || earlier.Quick {
		return nil
	}
	ran := map[string]bool{}
	for _, f := range fresh {
		ran[strings.SplitN(f.Benchmark, "/", 2)[0]] = true
	}
	var kept []Figure
	for _, f := range earlier.Figures {
		if !ran[strings.SplitN(f.Benchmark, "/", 2)[0]] {
			if f.Measured.IsZero() {
				f.Measured = earlier.Date
			}
			kept = append(kept, f)
		}
	}
	return kept
}

func formatValue(v float64) string {
	switch {
	case v == float64(int64(v)):
		return fmt.Sprintf("%d", int64(v))
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

// percentile returns the p-th percentile (0–100) of sorted durations, by the
// nearest-rank method, in milliseconds.
func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(float64(len(sorted))*p/100+0.999999) - 1
	rank = min(max(rank, 0), len(sorted)-1)
	return float64(sorted[rank]) / float64(time.Millisecond)
}

// reportLatencies reports p50, p95, p99 and max of latencies under prefix.
func reportLatencies(b *testing.B, prefix string, latencies []time.Duration) {
	b.Helper()
	sorted := append([]time.Duration(nil), latencies...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	for _, p := range []float64{50, 95, 99} {
		report(b, fmt.Sprintf("%s p%.0f", prefix, p), percentile(sorted, p), "ms")
	}
	report(b, prefix+" max", percentile(sorted, 100), "ms")
	report(b, prefix+" samples", float64(len(sorted)), "n")
}
