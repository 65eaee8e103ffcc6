package trigger

import (
	"fmt"
	"runtime"
	"testing"
	"unique"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/eso-bridge/eso-bridge/internal/heaptest"
	"github.com/eso-bridge/eso-bridge/providers"
	"github.com/eso-bridge/eso-bridge/providers/aws"
)

// BenchmarkReadersRetained reports the heap the trigger and its vault keep
// per ExternalSecret that reads one secret (what a fleet's members do):
// what it reads, who reads it, and the vault's set of followed secrets —
// before any version is known (see BenchmarkFollowedRetained, package aws,
// for those).
func BenchmarkReadersRetained(b *testing.B) {
	const n = 20000
	store := unique.Make(aws.StoreOf(&esv1.AWSProvider{Service: esv1.AWSServiceSecretsManager, Region: "eu-west-1",
		Role: "arn:aws:iam::123456789012:role/eso-reader"}, esv1.ClusterSecretStoreKind, "").ID()).Value()
	for range b.N {
		before := heaptest.Live()
		t := &VaultTrigger{
			Vault:    &aws.Poller{},
			refsOf:   map[types.NamespacedName][]providers.Handle{},
			readers:  map[providers.Handle][]types.NamespacedName{},
			patterns: map[providers.Handle]bool{},
		}
		for i := range n {
			es := types.NamespacedName{Namespace: fmt.Sprintf("team-%05d", i), Name: "db"}
			t.record(es, []providers.Ref{{Store: store, Key: es.Namespace + "/db"}})
		}
		heaptest.ReportSince(b, before, n, "B/ExternalSecret")
		runtime.KeepAlive(t)
	}
}
