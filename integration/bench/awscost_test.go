package bench_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/go-logr/logr"

	"github.com/eso-bridge/eso-bridge/integration/controlplane"
	"github.com/eso-bridge/eso-bridge/integration/localsm"
	"github.com/eso-bridge/eso-bridge/providers"
	awsprovider "github.com/eso-bridge/eso-bridge/providers/aws"
)

// defaultPollInterval is --aws-poll-interval's default.
const defaultPollInterval = 30 * time.Second

// dollarsPer10kCalls is the Secrets Manager API price (2025 list price).
const dollarsPer10kCalls = 0.05

// BenchmarkAWSCalls: AWS calls per poll cycle and per day at the default
// interval, for 10 to 10,000 watched secrets, against the in-process
// endpoint, which counts every call. One secret rotates before each cycle,
// so each steady cycle also confirms one move; the first cycle, which sees
// every secret for the first time, is reported apart.
func BenchmarkAWSCalls(b *testing.B) {
	for _, n := range []int{10, 100, 1000, 10000} {
		if *quick && n > 100 {
			continue
		}
		b.Run(fmt.Sprintf("secrets=%d", n), func(b *testing.B) {
			ctx := context.Background()
			server := localsm.New(localsm.Options{})
			url, err := server.Start()
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = server.Close() })
			client := controlplane.NewSecretsManager(url).Client
			store := awsprovider.Store{Region: "us-east-1"}.ID()
			var keys []string
			var refs []providers.Ref
			for i := range n {
				key := fmt.Sprintf("bench/%05d", i)
				if _, err := client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: &key, SecretString: sdkaws.String("v1")}); err != nil {
					b.Fatal(err)
				}
				keys, refs = append(keys, key), append(refs, providers.Ref{Store: store, Key: key})
			}
			poller := &awsprovider.Poller{Interval: time.Hour, Log: logr.Discard(),
				Clients: func(context.Context, awsprovider.Store) (awsprovider.API, error) { return client, nil }}
			poller.Watch(refs)
			calls := func() int { c := server.Calls(); return c["ListSecrets"] + c["DescribeSecret"] }
			changes := make(chan providers.Change, n+1)
			poller.Cycle(ctx, changes)
			first := calls()
			const cycles = 5
			for i := range cycles {
				drain(changes)
				key := keys[i*7%n]
				if _, err := client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: &key, SecretString: sdkaws.String(fmt.Sprint(i))}); err != nil {
					b.Fatal(err)
				}
				poller.Cycle(ctx, changes)
			}
			perCycle := float64(calls()-first) / cycles
			perDay := perCycle * float64(24*time.Hour/defaultPollInterval)
			report(b, "calls first cycle", float64(first), "calls")
			report(b, "calls per cycle", perCycle, "calls")
			report(b, "calls per day at 30s", perDay, "calls")
			report(b, "cost per day at 30s", perDay/10000*dollarsPer10kCalls, "USD")
		})
	}
}

// BenchmarkAWSCallsLargeAccount: an account of 20,000 secrets of which 100
// are watched. The first sweep lists the whole account, which prices a full
// listing; later sweeps list the watched names, ten to a filter, and cost
// what is watched. One watched secret rotates before each sweep.
func BenchmarkAWSCallsLargeAccount(b *testing.B) {
	const account, watched = 20000, 100
	if *quick {
		b.Skip("20,000 secrets take a while to create; run without -bench.quick")
	}
	ctx := context.Background()
	server := localsm.New(localsm.Options{})
	url, err := server.Start()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = server.Close() })
	client := controlplane.NewSecretsManager(url).Client
	store := awsprovider.Store{Region: "us-east-1"}.ID()
	var refs []providers.Ref
	for i := range account {
		key := fmt.Sprintf("account/%05d", i)
		if _, err := client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: &key, SecretString: sdkaws.String("v1")}); err != nil {
			b.Fatal(err)
		}
		if i%(account/watched) == 0 {
			refs = append(refs, providers.Ref{Store: store, Key: key})
		}
	}
	poller := &awsprovider.Poller{Interval: time.Hour, Log: logr.Discard(),
		Clients: func(context.Context, awsprovider.Store) (awsprovider.API, error) { return client, nil }}
	poller.Watch(refs)
	calls := func() (lists, describes int) { c := server.Calls(); return c["ListSecrets"], c["DescribeSecret"] }
	changes := make(chan providers.Change, len(refs)+1)
	poller.Cycle(ctx, changes)
	firstLists, _ := calls()
	const cycles = 5
	for i := range cycles {
		drain(changes)
		key := refs[i*7%len(refs)].Key
		if _, err := client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: &key, SecretString: sdkaws.String(fmt.Sprint(i))}); err != nil {
			b.Fatal(err)
		}
		poller.Cycle(ctx, changes)
	}
	lists, describes := calls()
	perCycle := float64(lists-firstLists+describes) / cycles
	report(b, "ListSecrets first sweep", float64(firstLists), "calls")
	report(b, "ListSecrets per sweep", float64(lists-firstLists)/cycles, "calls")
	report(b, "calls per sweep", perCycle, "calls")
	report(b, "calls per day at 30s", perCycle*float64(24*time.Hour/defaultPollInterval), "calls")
}

func drain(changes chan providers.Change) {
	for {
		select {
		case <-changes:
		default:
			return
		}
	}
}
