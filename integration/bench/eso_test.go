package bench_test

import (
	"testing"
	"time"
)

// BenchmarkWriteToPatchThroughESO is the scale benchmark's latency on a
// smaller fleet synced by the real ESO: each rotation puts a new value in
// AWS and makes ESO refresh one ExternalSecret; the latencies run from ESO's
// Secret write, and from the status that confirms it (which the gate waits
// for; ESO writes it after the Secret), to the patched pod template, all as
// a watch sees them.
// eso-bridge runs with --settle 0, as in BenchmarkScale.
func BenchmarkWriteToPatchThroughESO(b *testing.B) {
	n, rotations := size(100, 5), size(60, 5)
	bed := newVaultBed(b)
	names := make([]string, n)
	for i := range n {
		names[i] = fleetName(i)
		bed.externalSecret(b, names[i], map[string]string{"eso-bridge.io/rollout": "auto"})
		bed.deployment(b, names[i], nil, names[i])
	}
	writes, syncs, restarts := watchWrites(b, bed.ns), watchSyncs(b, bed.ns), watchRestarts(b, bed.ns)
	bed.controller(b, 0, append([]string{"--settle", "0s"}, unlimited...)...)
	for _, name := range names {
		bed.waitAdopted(b, name)
	}
	var fromWrite, fromStatus []time.Duration
	for r := range rotations {
		name := names[(r*7919)%n]
		written, synced, restarted := writes.next(name), syncs.next(name), restarts.next(name)
		bed.rotate(b, name)
		bed.refresh(b, name)
		w := await(b, written, "ESO's write of "+name, time.Minute)
		s := await(b, synced, "ESO's status for "+name, time.Minute)
		p := await(b, restarted, "the restart of "+name, time.Minute)
		fromWrite, fromStatus = append(fromWrite, p.Sub(w)), append(fromStatus, p.Sub(s))
	}
	reportLatencies(b, "ESO write→patch", fromWrite)
	reportLatencies(b, "ESO status→patch", fromStatus)
}
