package bench_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/eso-bridge/eso-bridge/bridge"
	"github.com/eso-bridge/eso-bridge/bridge/annotations"
)

// BenchmarkRestartsPerRotation: one Deployment reads 1, 3 or 10
// ExternalSecrets, and all of them rotate in AWS together. eso-bridge runs
// with its defaults (settle 2s) and a 1s poll: each rotation should restart
// the Deployment once, however many sources moved.
func BenchmarkRestartsPerRotation(b *testing.B) {
	rotations := size(3, 1)
	for _, sources := range []int{1, 3, 10} {
		b.Run(fmt.Sprintf("sources=%d", sources), func(b *testing.B) {
			bed := newVaultBed(b)
			var names []string
			for i := range sources {
				name := fmt.Sprintf("source-%02d", i)
				bed.externalSecret(b, name, nil)
				names = append(names, name)
			}
			app := bed.deployment(b, "app", map[string]string{annotations.AnnotationAuto: "true"}, names...)
			restarts := watchRestarts(b, bed.ns)
			bed.controller(b, time.Second)
			bed.waitAdopted(b, app.Name)
			before := bed.restarts(b, app)
			var latencies []time.Duration
			for r := range rotations {
				next := restarts.next(app.Name)
				rotated := time.Now()
				bed.rotate(b, names...)
				latencies = append(latencies, await(b, next, fmt.Sprintf("restart %d", r+1), 2*time.Minute).Sub(rotated))
				// Any second restart would come within the settle window
				// after the last source's write; wait well past it.
				time.Sleep(bridge.DefaultOptions().Settle + 6*time.Second)
			}
			report(b, "restarts per rotation", float64(bed.restarts(b, app)-before)/float64(rotations), "n")
			reportLatencies(b, "vault→patch", latencies)
		})
	}
}
