package bench_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
)

// BenchmarkWaves measures what restarting in waves adds to a rotation, with
// the real ESO and simulated pods: an ExternalSecret restarting its two
// Deployments at once, and one restarting them as a canary then the rest;
// each rotation is timed from ESO's confirming status to the end of the
// last rollout, as a watch sees eso-bridge record it. The difference is the
// first wave's rollout, which the second waits for by design. The same
// rotations without waves, beside those with, show that the waves cost a
// rotation that does not use them nothing.
func BenchmarkWaves(b *testing.B) {
	rotations := size(10, 2)
	bed := newVaultBed(b)
	modes := []annotations.WaveMode{annotations.WavesOff, annotations.WavesCanary}
	for _, mode := range modes {
		name := string(mode)
		bed.externalSecret(b, name, map[string]string{annotations.AnnotationRollout: "auto", annotations.AnnotationWaves: name})
		bed.deployment(b, name+"-1", map[string]string{annotations.AnnotationWave: "1"}, name)
		bed.deployment(b, name+"-2", nil, name)
	}
	syncs, results := watchSyncs(b, bed.ns), watchRolloutResults(b, bed.ns)
	bed.controller(b, 0, append([]string{"--settle", "0s"}, unlimited...)...)
	for _, mode := range modes {
		bed.waitAdopted(b, string(mode)+"-1")
		bed.waitAdopted(b, string(mode)+"-2")
	}
	took := map[annotations.WaveMode][]time.Duration{}
	for range rotations {
		// The two kinds alternate, so that a slow moment of the machine
		// falls on both alike.
		for _, mode := range modes {
			name := string(mode)
			synced, first, second := syncs.next(name), results.next(name+"-1"), results.next(name+"-2")
			bed.rotate(b, name)
			bed.refresh(b, name)
			s := await(b, synced, "ESO's status for "+name, time.Minute)
			one, two := await(b, first, "the rollout of "+name+"-1", time.Minute), await(b, second, "the rollout of "+name+"-2", time.Minute)
			took[mode] = append(took[mode], max(one.Sub(s), two.Sub(s)))
		}
	}
	for _, mode := range modes {
		reportLatencies(b, fmt.Sprintf("status→last rollout, waves %s", mode), took[mode])
	}
	p50 := func(mode annotations.WaveMode) float64 {
		return percentile(slices.Sorted(slices.Values(took[mode])), 50)
	}
	report(b, "added by a second wave, p50", p50(annotations.WavesCanary)-p50(annotations.WavesOff), "ms")
}
