package bench_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/integration/harness"
)

// BenchmarkDetection: from a new AWSCURRENT version in Secrets Manager to
// the Secret the real ESO writes, at several poll intervals; the
// ExternalSecret's refreshInterval is 1h, so without eso-bridge ESO alone
// would take up to an hour. Rotations land at random points of the poll
// cycle, so the median is about half the interval plus ESO's own time.
func BenchmarkDetection(b *testing.B) {
	intervals := []time.Duration{2 * time.Second, 10 * time.Second, defaultPollInterval}
	samples := 5
	if *quick {
		intervals, samples = []time.Duration{time.Second}, 2
	}
	for _, interval := range intervals {
		b.Run(fmt.Sprintf("interval=%s", interval), func(b *testing.B) {
			bed := newVaultBed(b)
			bed.externalSecret(b, "db", map[string]string{annotations.AnnotationRollout: "auto"})
			writes := watchWrites(b, bed.ns)
			bed.controller(b, interval)
			latencies := detect(b, bed, writes, samples, func() {
				time.Sleep(time.Duration(rand.Int64N(int64(interval)))) // a random phase of the cycle
			}, nil)
			reportLatencies(b, "vault→Secret", latencies)
			report(b, "poll interval", interval.Seconds(), "s")
		})
	}
}

// BenchmarkDetectionByEvent is BenchmarkDetection with the rotation announced
// as Secrets Manager does, by a "Secret Label Updated" event that an
// EventBridge rule (the example's pattern) routes to an SQS queue, with the
// sweep at its events-on default of 10 minutes.
func BenchmarkDetectionByEvent(b *testing.B) {
	bed := newVaultBed(b)
	bed.externalSecret(b, "db", map[string]string{annotations.AnnotationRollout: "auto"})
	writes := watchWrites(b, bed.ns)
	queue := harness.NewEventQueue(b, bed.ns)
	bed.controller(b, 0, "--aws-events-queue-url", queue.URL)
	latencies := detect(b, bed, writes, size(10, 2), func() { time.Sleep(time.Second) }, func(version string) {
		queue.Publish("Secret Label Updated", map[string]string{"name": bed.key("db"), "labelUpdated": "AWSCURRENT", "versionId": version})
	})
	reportLatencies(b, "vault→Secret", latencies)
}

// detect rotates the secret "db" samples times, each after pause, and
// returns the latencies from the put to ESO's write; announce, when not
// nil, is called with the new version right after the put.
func detect(b *testing.B, bed *vaultBed, writes *changes, samples int, pause func(), announce func(version string)) []time.Duration {
	b.Helper()
	var latencies []time.Duration
	for range samples {
		pause()
		next := writes.next("db")
		rotated := time.Now()
		version := bed.rotate(b, "db")[0]
		if announce != nil {
			announce(version)
		}
		latencies = append(latencies, await(b, next, "ESO's write of the rotated secret", 5*time.Minute).Sub(rotated))
	}
	return latencies
}
