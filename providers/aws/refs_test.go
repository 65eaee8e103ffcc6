package aws_test

import (
	"testing"
	"unsafe"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	esmeta "github.com/external-secrets/external-secrets/apis/meta/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	awsprovider "github.com/eso-bridge/eso-bridge/providers/aws"
)

// The refs of a store's ExternalSecrets share one copy of its ID: the
// trigger and the poller keep a ref for each of thousands of ExternalSecrets,
// and the ID of a store that assumes a role with keys from a Secret is well
// over a hundred bytes.
func TestRefsOfOneStoreShareOneCopyOfItsID(t *testing.T) {
	store := &esv1.SecretStoreSpec{Provider: &esv1.SecretStoreProvider{AWS: &esv1.AWSProvider{
		Service: esv1.AWSServiceSecretsManager, Region: "eu-west-1", Role: "arn:aws:iam::111111111111:role/team-a/reader",
		Auth: esv1.AWSAuth{SecretRef: &esv1.AWSAuthSecretRef{
			AccessKeyID:     esmeta.SecretKeySelector{Name: "aws-keys", Key: "access-key-id"},
			SecretAccessKey: esmeta.SecretKeySelector{Name: "aws-keys", Key: "secret-access-key"},
		}},
	}}}
	readerOf := func(name, key string) *esv1.ExternalSecret {
		return &esv1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: name},
			Spec: esv1.ExternalSecretSpec{SecretStoreRef: esv1.SecretStoreRef{Kind: esv1.SecretStoreKind, Name: "aws"},
				Data: []esv1.ExternalSecretData{{SecretKey: "v", RemoteRef: esv1.ExternalSecretDataRemoteRef{Key: key}}}}}
	}
	p := &awsprovider.Poller{}
	a, b := p.Refs(readerOf("a", "team-a/db"), store), p.Refs(readerOf("b", "team-a/api"), store)
	if len(a) != 1 || len(b) != 1 {
		t.Fatalf("refs %v and %v, want one each", a, b)
	}
	if a[0].Store != b[0].Store {
		t.Fatalf("one store, two IDs: %q and %q", a[0].Store, b[0].Store)
	}
	if unsafe.StringData(a[0].Store) != unsafe.StringData(b[0].Store) {
		t.Errorf("each ref holds its own copy of the store's %d-byte ID", len(a[0].Store))
	}
}
