package aws_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/go-logr/logr"

	"github.com/eso-bridge/eso-bridge/providers"
	awsprovider "github.com/eso-bridge/eso-bridge/providers/aws"
	"github.com/eso-bridge/eso-bridge/providers/aws/localsm"
)

// defaultPollInterval is eso-bridge's --aws-poll-interval default, for the
// calls-per-day figure.
const defaultPollInterval = 30 * time.Second

// fixture is a local endpoint holding n secrets, and a poller watching them.
type fixture struct {
	server *localsm.Server
	client *secretsmanager.Client
	poller *awsprovider.Poller
	keys   []string
}

func newFixture(b *testing.B, n int, interval time.Duration) *fixture {
	b.Helper()
	server := localsm.New(localsm.Options{})
	url, err := server.Start()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = server.Close() })
	client := clientAt(url)
	f := &fixture{server: server, client: client}
	var refs []providers.Ref
	store := awsprovider.Store{Region: "us-east-1"}.ID()
	for i := range n {
		key := fmt.Sprintf("bench/%05d", i)
		if _, err := client.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: &key, SecretString: sdkaws.String("v1")}); err != nil {
			b.Fatal(err)
		}
		f.keys = append(f.keys, key)
		refs = append(refs, providers.Ref{Store: store, Key: key})
	}
	f.poller = &awsprovider.Poller{
		Interval: interval, Log: logr.Discard(),
		Clients: func(context.Context, awsprovider.Store) (awsprovider.API, error) { return client, nil },
	}
	f.poller.Watch(refs)
	return f
}

// clientAt is a Secrets Manager client for a local endpoint, with static
// test keys; opts adjust it.
func clientAt(url string, opts ...func(*secretsmanager.Options)) *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{
		Region: "us-east-1", BaseEndpoint: sdkaws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	}, opts...)
}

// calls returns the endpoint's calls of the poller's two operations.
func (f *fixture) calls() int {
	c := f.server.Calls()
	return c["ListSecrets"] + c["DescribeSecret"]
}

// BenchmarkPollCycle reports AWS calls per steady-state poll cycle (one secret
// rotated per cycle) and per day at the default interval, for N watched secrets.
func BenchmarkPollCycle(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("secrets=%d", n), func(b *testing.B) {
			f := newFixture(b, n, time.Hour)
			changes := make(chan providers.Change)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() { // the benchmark counts calls, not changes
				for {
					select {
					case <-changes:
					case <-ctx.Done():
						return
					}
				}
			}()
			f.poller.Cycle(ctx, changes) // first sightings: one DescribeSecret each
			firstCycle := f.calls()
			b.ResetTimer()
			before := f.calls()
			for i := range b.N {
				key := f.keys[i%n]
				if _, err := f.client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: &key, SecretString: sdkaws.String(fmt.Sprint(i))}); err != nil {
					b.Fatal(err)
				}
				f.poller.Cycle(ctx, changes)
			}
			b.StopTimer()
			perCycle := float64(f.calls()-before) / float64(b.N)
			b.ReportMetric(perCycle, "calls/cycle")
			b.ReportMetric(perCycle*float64(24*time.Hour/defaultPollInterval), "calls/day@30s")
			b.ReportMetric(float64(firstCycle), "calls/first-cycle")
		})
	}
}

// BenchmarkDetection reports the latency from a PutSecretValue to the
// poller's report of the move, with a 1s poll interval, for N watched secrets.
func BenchmarkDetection(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("secrets=%d", n), func(b *testing.B) {
			const interval = time.Second
			f := newFixture(b, n, interval)
			changes := make(chan providers.Change, 2*n)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() { _ = f.poller.Run(ctx, changes) }()
			for range n { // the first sightings
				<-changes
			}
			var latencies []time.Duration
			b.ResetTimer()
			for i := range b.N {
				key := f.keys[i%n]
				put := time.Now()
				if _, err := f.client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: &key, SecretString: sdkaws.String(fmt.Sprint(i))}); err != nil {
					b.Fatal(err)
				}
				for change := range changes {
					if change.Ref.Key == key && !change.First {
						break
					}
				}
				latencies = append(latencies, time.Since(put))
			}
			b.StopTimer()
			sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
			b.ReportMetric(latencies[len(latencies)/2].Seconds(), "s-p50-detect")
			b.ReportMetric(latencies[len(latencies)-1].Seconds(), "s-max-detect")
		})
	}
}
