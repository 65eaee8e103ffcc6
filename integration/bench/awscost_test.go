package bench_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/eso-bridge/eso-bridge/integration/controlplane"
	"github.com/eso-bridge/eso-bridge/integration/harness"
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
			ep, keys := localAccount(b, n)
			first, steady := sweepsWithRotations(b, ep, keys)
			perCycle := float64(steady["ListSecrets"]+steady["DescribeSecret"]) / rotatedSweeps
			perDay := perCycle * float64(24*time.Hour/defaultPollInterval)
			report(b, "calls first cycle", float64(first["ListSecrets"]+first["DescribeSecret"]), "calls")
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
	ep, keys := localAccount(b, account)
	var followed []string
	for i := 0; i < account; i += account / watched {
		followed = append(followed, keys[i])
	}
	first, steady := sweepsWithRotations(b, ep, followed)
	perCycle := float64(steady["ListSecrets"]+steady["DescribeSecret"]) / rotatedSweeps
	report(b, "ListSecrets first sweep", float64(first["ListSecrets"]), "calls")
	report(b, "ListSecrets per sweep", float64(steady["ListSecrets"])/rotatedSweeps, "calls")
	report(b, "calls per sweep", perCycle, "calls")
	report(b, "calls per day at 30s", perCycle*float64(24*time.Hour/defaultPollInterval), "calls")
}

// endpoint is the in-process endpoint of a benchmark, and a client of it.
type endpoint struct {
	server *localsm.Server
	client *secretsmanager.Client
	url    string
}

// localAccount serves an in-process endpoint holding n secrets, and returns
// it with their names.
func localAccount(b *testing.B, n int) (endpoint, []string) {
	b.Helper()
	keys := make([]string, n)
	for i := range n {
		keys[i] = fmt.Sprintf("bench/%05d", i)
	}
	return localAccountOf(b, keys), keys
}

// localAccountOf serves an in-process endpoint holding a secret of each
// name in keys, until the benchmark ends.
func localAccountOf(b *testing.B, keys []string) endpoint {
	b.Helper()
	server := localsm.New(localsm.Options{})
	url, err := server.Start()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = server.Close() })
	ep := endpoint{server: server, client: controlplane.NewSecretsManager(url).Client, url: url}
	for _, key := range keys {
		if _, err := ep.client.CreateSecret(b.Context(), &secretsmanager.CreateSecretInput{Name: &key, SecretString: sdkaws.String("v1")}); err != nil {
			b.Fatalf("creating the vault's secrets: %v", err)
		}
	}
	return ep
}

// rotatedSweeps is how many sweeps sweepsWithRotations runs after the first.
const rotatedSweeps = 5

// sweepsWithRotations watches keys of ep, sweeps once,
// then rotatedSweeps times, each after one of keys rotated. It returns the
// calls of the first sweep and of the later ones, by operation.
func sweepsWithRotations(b *testing.B, ep endpoint, keys []string) (first, steady map[string]int) {
	b.Helper()
	ctx := context.Background()
	store := awsprovider.Store{Region: "us-east-1"}.ID()
	refs := make([]providers.Ref, len(keys))
	for i, key := range keys {
		refs[i] = providers.Ref{Store: store, Key: key}
	}
	poller := &awsprovider.Poller{Interval: time.Hour, Log: logr.Discard(),
		Clients: func(context.Context, awsprovider.Store) (awsprovider.API, error) { return ep.client, nil }}
	poller.Watch(refs)
	changes := make(chan providers.Change, len(refs)+1)
	poller.Cycle(ctx, changes)
	first = ep.server.Calls()
	for i := range rotatedSweeps {
		drain(changes)
		key := keys[i*7%len(keys)]
		if _, err := ep.client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: &key, SecretString: sdkaws.String(fmt.Sprint(i))}); err != nil {
			b.Fatal(err)
		}
		poller.Cycle(ctx, changes)
	}
	steady = ep.server.Calls()
	for op, n := range first {
		steady[op] -= n
	}
	return first, steady
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

// BenchmarkParameterStoreCalls: Parameter Store calls per sweep for 1,000
// watched parameters (100 with -bench.quick), against moto's SSM on the
// control plane's endpoint: DescribeParameters by name, fifty to a call, one
// parameter rotated before each sweep (a new version is found in the same
// call, so a rotation costs nothing more).
func BenchmarkParameterStoreCalls(b *testing.B) {
	n := 1000
	if *quick {
		n = 100
	}
	ctx := context.Background()
	cp := harness.ControlPlane(b)
	parameters := controlplane.NewParameterStore(cp.SecretsManagerURL)
	prefix := fmt.Sprintf("/bench-%d/", time.Now().UnixNano())
	store := awsprovider.Store{Service: awsprovider.ServiceParameterStore, Region: controlplane.AWSRegion}.ID()
	refs := make([]providers.Ref, n)
	for i := range n {
		refs[i] = providers.Ref{Store: store, Key: fmt.Sprintf("%s%04d", prefix, i)}
		if _, err := parameters.Put(ctx, refs[i].Key, "v1"); err != nil {
			b.Fatal(err)
		}
	}
	calls := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "calls"}, []string{"operation", "result"})
	poller := &awsprovider.Poller{Interval: time.Hour, Log: logr.Discard(), Calls: calls,
		ParameterClients: func(context.Context, awsprovider.Store) (awsprovider.ParameterAPI, error) {
			return parameters.Client, nil
		}}
	poller.Watch(refs)
	changes := make(chan providers.Change, n+1)
	described := func() float64 { return testutil.ToFloat64(calls.WithLabelValues("DescribeParameters", "success")) }
	poller.Cycle(ctx, changes)
	first := described()
	for i := range rotatedSweeps {
		drain(changes)
		if _, err := parameters.Put(ctx, refs[i*7%n].Key, fmt.Sprint(i)); err != nil {
			b.Fatal(err)
		}
		poller.Cycle(ctx, changes)
		if len(changes) == 0 {
			b.Fatalf("sweep %d did not find the parameter's new version", i+1)
		}
	}
	perSweep := (described() - first) / rotatedSweeps
	report(b, "DescribeParameters first sweep", first, "calls")
	report(b, "DescribeParameters per sweep", perSweep, "calls")
	report(b, "calls per day at 30s", perSweep*float64(24*time.Hour/defaultPollInterval), "calls")
}
