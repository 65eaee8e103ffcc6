package index

import (
	"slices"
	"testing"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/workload"
)

// A value is keyed as controller-runtime's cache reader looks it up with
// client.MatchingFields: in the object's namespace, and across namespaces
// only for the fields a lookup reads so (the cluster-wide cap).
func TestKeysAreNamespacedExceptForLookupsAcrossNamespaces(t *testing.T) {
	deployment := &workload.DeploymentRecord{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", Annotations: map[string]string{
			annotations.AnnotationExternalSecrets: "db, api",
		}},
		// As decoded from a pod spec whose container reads db-creds.
		Spec: workload.DeploymentRecordSpec{Template: workload.TemplateRecord{Spec: workload.SecretNames{"db-creds"}}},
	}
	indexers := WorkloadIndexers(workload.Deployment{})
	for _, tc := range []struct {
		field string
		obj   client.Object
		want  []string
	}{
		{SecretRefs, deployment, []string{"shop/db-creds"}},
		{FollowedExternalSecrets, deployment, []string{"shop/db", "shop/api"}},
		{TraceID, deployment, nil},
		{RollingOut, rollingOut(deployment), []string{"shop/true", "__all_namespaces/true"}},
	} {
		got, err := indexers[fieldIndexName(tc.field)](tc.obj)
		if err != nil {
			t.Fatalf("%s: %v", tc.field, err)
		}
		slices.Sort(got)
		slices.Sort(tc.want)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: keys %q, want %q", tc.field, got, tc.want)
		}
	}
	if _, err := indexers[fieldIndexName(SecretRefs)]("not an object"); err == nil {
		t.Error("a value that is not an object was indexed without an error")
	}
}

// rollingOut is d with the rollout of a restart eso-bridge made unreported.
func rollingOut(d *workload.DeploymentRecord) *workload.DeploymentRecord {
	d = d.DeepCopy()
	d.Spec.Template.Metadata.Annotations = map[string]string{annotations.AnnotationRestartedAt: "2026-12-03T12:00:00Z"}
	if !IsRollingOut(workload.Deployment{}, d) {
		panic("the fixture is not rolling out: see annotations.RolloutUnreported")
	}
	return d
}

// The TargetSecret index keys only the ExternalSecrets that write a Secret
// named otherwise than themselves; the rest are found by name (Writers).
// A reader without the index (the CLI) still sees every ExternalSecret's
// Secret in ExternalSecretFields.
func TestTargetSecretIsIndexedOnlyWhenNamedOtherwise(t *testing.T) {
	own := &esv1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db"}}
	sameExplicitly := own.DeepCopy()
	sameExplicitly.Spec.Target.Name = "db"
	merged := &esv1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db-user"},
		Spec: esv1.ExternalSecretSpec{Target: esv1.ExternalSecretTarget{Name: "db", CreationPolicy: esv1.CreatePolicyMerge}}}
	indexer := ExternalSecretIndexers()[fieldIndexName(TargetSecret)]
	for _, tc := range []struct {
		es   *esv1.ExternalSecret
		want []string
	}{
		{own, nil},
		{sameExplicitly, nil},
		{merged, []string{"shop/db"}},
	} {
		got, err := indexer(tc.es)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s (target %q): keys %q, want %q", tc.es.Name, tc.es.Spec.Target.Name, got, tc.want)
		}
		if field := ExternalSecretFields[TargetSecret](tc.es); !slices.Equal(field, []string{"db"}) {
			t.Errorf("%s: field %q, want the Secret it writes, db", tc.es.Name, field)
		}
	}
}
