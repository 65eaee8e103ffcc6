// Package heaptest measures, in benchmarks, the heap that objects keep: the
// part of the controller's resident memory a data structure decides,
// without the Go runtime's headroom, which heap profiles of the running
// controller are too coarse to show.
package heaptest

import (
	"runtime"
	"testing"
)

// Live is the heap in use by live objects, after a collection.
func Live() uint64 {
	runtime.GC()
	var stats runtime.MemStats
	runtime.ReadMemStats(&stats)
	return stats.HeapAlloc
}

// ReportSince reports the live heap grown since before (a Live reading),
// divided among n objects, as unit ("B/object"); it returns the new
// reading, the next measurement's before.
func ReportSince(b *testing.B, before uint64, n int, unit string) uint64 {
	b.Helper()
	now := Live()
	b.ReportMetric((float64(now)-float64(before))/float64(n), unit)
	return now
}
