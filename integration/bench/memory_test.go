package bench_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/eso-bridge/eso-bridge/integration/harness"
)

// BenchmarkMemoryBySecretSize: 2,000 ESO-managed Secrets of 1 KiB, then of
// 64 KiB, each in a namespace of its own with a fresh controller process.
// eso-bridge watches Secrets as metadata only, so its resident memory should
// not follow the data's size. A plain client-go informer over the same
// Secrets (what a controller watching whole Secrets holds) is measured beside
// it, to show what the size would cost.
func BenchmarkMemoryBySecretSize(b *testing.B) {
	n := size(2000, 50)
	exe := releaseBinary(b) // what the image ships, not this test binary with its test bed
	for _, kib := range []int{1, 64} {
		b.Run(fmt.Sprintf("size=%dKiB", kib), func(b *testing.B) {
			ns := harness.Namespace(b)
			newFleet(b, ns, n, kib<<10, false)

			controller := startController(b, exe, nil, append([]string{"--namespaces", ns, "--aws-poll-interval", "0"}, unlimited...)...)
			// Read once the start's memory is given back, as
			// BenchmarkBesideReloader does: what the Secrets cost, not the
			// start's decoding.
			controller.waitLog(b, startDone, time.Minute)
			report(b, "eso-bridge RSS", medianRSS(b, controller)/(1<<20), "MiB")
			report(b, "eso-bridge heap in use", controller.sum(b, "go_memstats_heap_inuse_bytes")/(1<<20), "MiB")
			controller.stop()

			informer := startChild(b, modeSecretInformer, nil, harness.ControlPlane(b).KubeconfigPath, ns)
			informer.waitLog(b, "synced", 5*time.Minute)
			report(b, "whole-Secret informer RSS", medianRSS(b, informer)/(1<<20), "MiB")
		})
	}
}

// medianRSS waits for the process to settle, then returns the median of
// five samples of its resident set, one a second.
func medianRSS(b *testing.B, c *child) float64 {
	b.Helper()
	time.Sleep(3 * time.Second)
	var samples []float64
	for range 5 {
		samples = append(samples, c.stats(b).RSSBytes)
		time.Sleep(time.Second)
	}
	return median(samples)
}

// median is the middle of values, or the mean of the two middle ones when
// their number is even.
func median(values []float64) float64 {
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	mid := len(sorted) / 2
	if len(sorted)%2 == 0 {
		return (sorted[mid-1] + sorted[mid]) / 2
	}
	return sorted[mid]
}
