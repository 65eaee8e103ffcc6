package aws

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"
	"unique"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"

	"github.com/eso-bridge/eso-bridge/internal/heaptest"
	"github.com/eso-bridge/eso-bridge/providers"
)

// BenchmarkFollowedRetained reports the heap the poller keeps per secret it
// follows, once its current version is known: the fleet's part of the
// controller's resident memory that the source decides (one entry per
// followed secret in the watched set and in the known versions). The
// refs are as refsFor makes them — a shared, interned store ID and one
// key each — and the versions as ListSecrets reports them.
func BenchmarkFollowedRetained(b *testing.B) {
	const n = 20000
	store := unique.Make(StoreOf(&esv1.AWSProvider{Service: esv1.AWSServiceSecretsManager, Region: "eu-west-1",
		Role: "arn:aws:iam::123456789012:role/eso-reader"}, esv1.ClusterSecretStoreKind, "").ID()).Value()
	for range b.N {
		refs := make([]providers.Ref, n)
		for i := range refs {
			refs[i] = providers.Ref{Store: store, Key: fmt.Sprintf("team-%05d/db", i)}
		}
		changes := make(chan providers.Change, n)
		before := heaptest.Live()
		p := &Poller{}
		p.Follow(refs, nil)
		for i, ref := range refs {
			version := providers.Version{
				ID:        fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i),
				Labels:    []string{LabelCurrent},
				ChangedAt: time.Unix(1796500000, 0),
				ARN:       fmt.Sprintf("arn:aws:secretsmanager:eu-west-1:123456789012:secret:%s-AbCdEf", ref.Key),
			}
			if err := p.report(context.Background(), ref, version, true, changes); err != nil {
				b.Fatal(err)
			}
			<-changes
		}
		refs = nil
		heaptest.ReportSince(b, before, n, "B/ref")
		runtime.KeepAlive(p)
	}
}

// BenchmarkUnfollowedRetained reports the heap the poller keeps after
// rounds of 20,000 secrets that are followed, looked at and dropped (the
// ExternalSecrets of preview namespaces, created and deleted): per secret
// of one round, what stays once the last round's readers are gone. It
// stays at the first round's map slots, however many rounds come and go.
func BenchmarkUnfollowedRetained(b *testing.B) {
	const n, rounds = 20000, 5
	store := unique.Make(StoreOf(&esv1.AWSProvider{Service: esv1.AWSServiceSecretsManager, Region: "eu-west-1"}, esv1.ClusterSecretStoreKind, "").ID()).Value()
	for range b.N {
		changes := make(chan providers.Change, 1)
		before := heaptest.Live()
		p := &Poller{}
		for round := range rounds {
			refs := make([]providers.Ref, n)
			for i := range refs {
				refs[i] = providers.Ref{Store: store, Key: fmt.Sprintf("preview-%d-%05d/db", round, i)}
			}
			p.Follow(refs, nil)
			for i, ref := range refs {
				version := providers.Version{ID: fmt.Sprintf("%08x-0000-4000-8000-%012x", i, round), Labels: []string{LabelCurrent}}
				if err := p.report(context.Background(), ref, version, true, changes); err != nil {
					b.Fatal(err)
				}
				<-changes
			}
			p.Follow(nil, refs)
			p.forgetUnfollowed()
		}
		heaptest.ReportSince(b, before, n, "B/secret")
		runtime.KeepAlive(p)
	}
}
