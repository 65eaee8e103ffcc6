package cachetrim

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/eso"
	"github.com/eso-bridge/eso-bridge/bridge/workload"
)

// A Deployment as teams write them: probes, resources, plain env, a
// ConfigMap volume, a sidecar that reads no Secret, and three ways of
// reading Secrets, one Secret read for two of its keys.
func productionDeployment() *appsv1.Deployment {
	written := metav1.NewTime(time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC))
	secretEnv := func(name, secret string) corev1.EnvVar {
		return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: "password"}}}
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "shop",
			Annotations: map[string]string{lastApplied: `{"kind":"Deployment","spec":"…the whole manifest…"}`, "team": "payments",
				workload.RevisionAnnotation: "3", "eso-bridge.io/source-hash": "h1"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply, Time: &written,
				FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:spec":{"f:template":{}}}`)}}}},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{"eso-bridge.io/source-hash": "h1", "kubectl.kubernetes.io/restartedAt": "2026-12-01T10:00:00Z"}},
			Spec: corev1.PodSpec{
				NodeSelector: map[string]string{"pool": "general"},
				Volumes: []corev1.Volume{
					{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "api-tls"}}},
					{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "api-conf"}}}},
					{Name: "bundle", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
						{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "ca"}}},
						{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "api-keys"}}},
					}}}},
				},
				InitContainers: []corev1.Container{{Name: "migrate", Image: "api:1", Env: []corev1.EnvVar{secretEnv("DB", "db")}}},
				Containers: []corev1.Container{{
					Name: "api", Image: "api:1", Args: []string{"--port", "8080"},
					Env:            []corev1.EnvVar{{Name: "LOG", Value: "debug"}, secretEnv("TOKEN", "api-token"), secretEnv("TOKEN_NEXT", "api-token")},
					EnvFrom:        []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "api-conf"}}}, {SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "api-env"}}}},
					Resources:      corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")}},
					ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready"}}},
				}, {
					Name: "log-shipper", Image: "fluent-bit:3", Env: []corev1.EnvVar{{Name: "OUTPUT", Value: "stdout"}},
					Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}},
				}},
			},
		}},
	}
}

// cachedRecord is d as the controller's cache holds it: decoded from the
// JSON the API server sends into a DeploymentRecord, then trimmed.
func cachedRecord(t *testing.T, d *appsv1.Deployment) *workload.DeploymentRecord {
	t.Helper()
	trimmed, _ := Transform(decoded(t, d))
	return trimmed.(*workload.DeploymentRecord)
}

func TestTrimmedWorkloadsUseTheSameSecretsAndPatchOnlyWhatChanged(t *testing.T) {
	original := productionDeployment()
	want := workload.SecretsUsedBy(&original.Spec.Template)
	if len(want) != 5 {
		t.Fatalf("the fixture uses %v, want 5 Secrets", want)
	}
	d := cachedRecord(t, original)
	if got := (workload.Deployment{}).SecretsUsed(d); !slices.Equal(got, want) {
		t.Errorf("as cached the Deployment uses %v, want %v", got, want)
	}
	// Kept: eso-bridge's annotations and the revision `rollout status`
	// reads; dropped: a team's, kubectl's copy of the manifest and its
	// restart stamp.
	if want := map[string]string{workload.RevisionAnnotation: "3", "eso-bridge.io/source-hash": "h1"}; !maps.Equal(d.Annotations, want) {
		t.Errorf("annotations after trimming: %v, want %v", d.Annotations, want)
	}
	if want := map[string]string{"eso-bridge.io/source-hash": "h1"}; !maps.Equal(d.Spec.Template.Metadata.Annotations, want) {
		t.Errorf("pod template annotations after trimming: %v, want %v", d.Spec.Template.Metadata.Annotations, want)
	}
	if f := d.ManagedFields; f != nil {
		t.Errorf("a workload's managed fields are not read, but %+v are kept", f)
	}

	// The restart patch, computed between two trimmed copies as the
	// reconciler does, names the annotations it sets and nothing the cache
	// dropped: the API server keeps the containers, volumes and
	// last-applied copy as they are.
	modified := d.DeepCopy()
	modified.Spec.Template.Metadata.Annotations["eso-bridge.io/source-hash"] = "h2"
	data, err := client.MergeFrom(d).Data(modified)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"spec":{"template":{"metadata":{"annotations":{"eso-bridge.io/source-hash":"h2"}}}}}`; string(data) != want {
		t.Errorf("restart patch of a trimmed Deployment = %s, want %s", data, want)
	}
}

// The other workload kinds are held whole, trimmed to the same: of their
// pod spec, the names of the Secrets it reads.
func TestTrimmedStatefulSetsKeepTheSecretsTheirPodsRead(t *testing.T) {
	d := productionDeployment()
	sts := &appsv1.StatefulSet{ObjectMeta: d.ObjectMeta, Spec: appsv1.StatefulSetSpec{Template: d.Spec.Template}}
	trimmed, _ := Transform(sts.DeepCopy())
	got := trimmed.(*appsv1.StatefulSet)
	if want := workload.SecretsUsedBy(&d.Spec.Template); !slices.Equal((workload.StatefulSet{}).SecretsUsed(got), want) {
		t.Errorf("after trimming the StatefulSet uses %v, want %v", (workload.StatefulSet{}).SecretsUsed(got), want)
	}
	if spec := got.Spec.Template.Spec; len(spec.Containers) > 0 || spec.NodeSelector != nil || len(spec.Volumes) != 1 {
		t.Errorf("trimmed pod spec keeps what no decision reads: %+v", spec)
	}
}

func TestTrimmedObjectsKeepWhenESOWrote(t *testing.T) {
	at := func(second int) *metav1.Time {
		t := metav1.NewTime(time.Date(2026, 12, 2, 1, 0, second, 0, time.UTC))
		return &t
	}
	entry := func(manager, subresource string, when *metav1.Time) metav1.ManagedFieldsEntry {
		return metav1.ManagedFieldsEntry{Manager: manager, Operation: metav1.ManagedFieldsOperationUpdate, Subresource: subresource, Time: when,
			FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:status":{}}`)}}
	}
	// A later spec edit by a user does not count as ESO's status write.
	es := &esv1.ExternalSecret{
		ObjectMeta: metav1.ObjectMeta{Name: "db", ManagedFields: []metav1.ManagedFieldsEntry{
			entry("external-secrets", "status", at(2)), entry("external-secrets", "status", at(5)), entry("kubectl-edit", "", at(9)),
		}},
		Spec: esv1.ExternalSecretSpec{Target: esv1.ExternalSecretTarget{Name: "db-secret",
			Template: &esv1.ExternalSecretTemplate{Data: map[string]string{"dsn": "postgres://{{ .user }}@db"}}}},
	}
	trimmed, _ := Transform(es.DeepCopy())
	got := trimmed.(*esv1.ExternalSecret)
	if got.Spec.Target.Template != nil || eso.TargetSecret(got) != "db-secret" {
		t.Errorf("trimmed ExternalSecret target: %+v", got.Spec.Target)
	}
	if want := eso.StatusWritten(es); !eso.StatusWritten(got).Equal(want) || !want.Equal(at(5).Time) {
		t.Errorf("status written at %v after trimming, want %v (%v untrimmed)", eso.StatusWritten(got), at(5), want)
	}
	if len(got.ManagedFields) != 1 || got.ManagedFields[0].FieldsV1 != nil {
		t.Errorf("an ExternalSecret keeps %+v of its managed fields, want one entry without fields", got.ManagedFields)
	}

	secret := eso.SecretMetadata()
	secret.Labels = map[string]string{"reconcile.external-secrets.io/managed": "true", "reconcile.external-secrets.io/created-by": "0123456789abcdef"}
	secret.Annotations = map[string]string{eso.DataHashAnnotation: "d1", "team": "payments"}
	secret.OwnerReferences = []metav1.OwnerReference{{APIVersion: "external-secrets.io/v1", Kind: "ExternalSecret", Name: "db", UID: "u2"}}
	secret.ManagedFields = []metav1.ManagedFieldsEntry{entry("external-secrets", "", at(3)), entry("kubectl", "", at(7)), entry("other", "", at(4))}
	trimmedSecret, _ := Transform(secret.DeepCopy())
	gotSecret := trimmedSecret.(*metav1.PartialObjectMetadata)
	if want := eso.LastWrite(secret); !eso.LastWrite(gotSecret).Equal(want) || !want.Equal(at(7).Time) {
		t.Errorf("Secret last written at %v after trimming, want %v (%v untrimmed)", eso.LastWrite(gotSecret), at(7), want)
	}
	if want := map[string]string{eso.DataHashAnnotation: "d1"}; gotSecret.Labels != nil || !maps.Equal(gotSecret.Annotations, want) {
		t.Errorf("a Secret keeps labels %v and annotations %v, want none and %v", gotSecret.Labels, gotSecret.Annotations, want)
	}
	if gotSecret.OwnerReferences != nil {
		t.Errorf("a Secret keeps its owners %+v, which nothing reads", gotSecret.OwnerReferences)
	}
	if len(gotSecret.ManagedFields) != 1 {
		t.Errorf("a Secret keeps %+v of its managed fields, want one entry", gotSecret.ManagedFields)
	}
}

// An ExternalSecret applied with `kubectl apply` carries the last-applied
// copy of its manifest, and ESO's syncedResourceVersion digests every
// annotation: trimmed, the ExternalSecret must still read as synced.
func TestTrimmedExternalSecretStillMatchesESOsDigest(t *testing.T) {
	es := &esv1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "shop", Generation: 3,
		Labels: map[string]string{"team": "payments"},
		Annotations: map[string]string{
			lastApplied:             `{"apiVersion":"external-secrets.io/v1","kind":"ExternalSecret","metadata":{"name":"db"}}`,
			"eso-bridge.io/rollout": "auto",
		}}}
	es.Status.SyncedResourceVersion = eso.ResourceVersion(es.ObjectMeta) // as ESO writes it
	trimmed, _ := Transform(es.DeepCopy())
	got := trimmed.(*esv1.ExternalSecret)
	if !eso.StatusReflectsSpec(got) {
		t.Errorf("a trimmed kubectl-applied ExternalSecret no longer matches ESO's syncedResourceVersion %s", es.Status.SyncedResourceVersion)
	}
	if want := map[string]string{"eso-bridge.io/rollout": "auto"}; !maps.Equal(got.Annotations, want) || got.Labels != nil {
		t.Errorf("a trimmed ExternalSecret keeps annotations %v and labels %v, want %v and none", got.Annotations, got.Labels, want)
	}
	// client-go asks a transform to be idempotent: trimmed again, the
	// copy and its digest stay as they are.
	if again, _ := Transform(got.DeepCopy()); !reflect.DeepEqual(again, got) {
		t.Errorf("trimmed twice, an ExternalSecret reads %+v, once %+v", again, got)
	}
	// Once eso-bridge's trigger writes its annotation, ESO has yet to sync.
	annotations.Set(got, annotations.AnnotationVaultVersions, "v2")
	if eso.StatusReflectsSpec(got) {
		t.Error("a trimmed ExternalSecret whose annotations changed since ESO's sync still reads as synced")
	}
}

// ESO synced an ExternalSecret that carried only eso-bridge's annotation;
// since then a tool has added a label, so ESO will sync again. Trimmed of
// the label, its metadata is the one ESO digested: it must not read as
// synced all the same.
func TestTrimmedExternalSecretChangedSinceItsSyncDoesNotReadAsSynced(t *testing.T) {
	es := &esv1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "shop", Generation: 3,
		Annotations: map[string]string{"eso-bridge.io/rollout": "auto"}}}
	es.Status.SyncedResourceVersion = eso.ResourceVersion(es.ObjectMeta)
	es.Labels = map[string]string{"argocd.argoproj.io/instance": "shop"}
	trimmed, _ := Transform(es.DeepCopy())
	if eso.StatusReflectsSpec(trimmed.(*esv1.ExternalSecret)) {
		t.Error("an ExternalSecret labelled after ESO's sync reads as synced once trimmed")
	}
}

// A workload keeps neither its labels, its pod template's, nor its owners
// (pods are found by the selector), and of a Deployment's conditions only
// what its rollout status reads: trimmed, a Deployment past its progress
// deadline still reads as stalled, one rolling out as rolling out.
func TestTrimmedWorkloadsKeepTheirSelectorAndRolloutStatus(t *testing.T) {
	labels := map[string]string{"app": "api"}
	conditions := func(reason string) []appsv1.DeploymentCondition {
		return []appsv1.DeploymentCondition{
			{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable", Message: "Deployment has minimum availability."},
			{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: reason, Message: `ReplicaSet "api-7d9f8b6c5d" has timed out progressing.`},
		}
	}
	for _, reason := range []string{workload.ProgressDeadlineExceeded, "ReplicaSetUpdated"} {
		d := productionDeployment()
		d.Labels, d.Spec.Template.Labels = labels, labels
		d.OwnerReferences = []metav1.OwnerReference{{APIVersion: "argoproj.io/v1alpha1", Kind: "Application", Name: "shop", UID: "u1"}}
		d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api", "tier": "web"},
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "track", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"canary"}}}}
		d.Spec.Replicas = ptr.To[int32](2)
		d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
			MaxSurge: ptr.To(intstr.FromString("25%")), MaxUnavailable: ptr.To(intstr.FromInt32(0))}}
		d.Generation, d.Status = 4, appsv1.DeploymentStatus{ObservedGeneration: 4, Replicas: 2, UpdatedReplicas: 1, Conditions: conditions(reason)}
		want, _ := workload.Deployment{}.Progress(decoded(t, d))

		got := cachedRecord(t, d)
		if progress, _ := (workload.Deployment{}).Progress(got); progress != want {
			t.Errorf("%s: rollout status after trimming %+v, want %+v", reason, progress, want)
		}
		if got.Labels != nil || got.OwnerReferences != nil {
			t.Errorf("%s: a trimmed Deployment keeps labels %v, owners %v", reason, got.Labels, got.OwnerReferences)
		}
		if !selectSamePods(t, got.Spec.Selector, d.Spec.Selector) {
			t.Errorf("%s: selector after trimming %v selects other pods than %v", reason, got.Spec.Selector, d.Spec.Selector)
		}
		if again, _ := Transform(got.DeepCopy()); !reflect.DeepEqual(again, got) {
			t.Errorf("%s: trimming a trimmed Deployment changed it to %+v", reason, again)
		}
		if len(got.Status.Conditions) > 1 {
			t.Errorf("%s: a trimmed Deployment keeps conditions %+v", reason, got.Status.Conditions)
		}
	}
}

// decoded is d as the API server sends it, decoded into a record, untrimmed.
func decoded(t *testing.T, d *appsv1.Deployment) *workload.DeploymentRecord {
	t.Helper()
	data, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	record := &workload.DeploymentRecord{}
	if err := json.Unmarshal(data, record); err != nil {
		t.Fatal(err)
	}
	return record
}

// selectSamePods says whether selectors a and b select the same pods among
// pods labelled as a workload's are, or nearly.
func selectSamePods(t *testing.T, a, b *metav1.LabelSelector) bool {
	t.Helper()
	sa, err := metav1.LabelSelectorAsSelector(a)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := metav1.LabelSelectorAsSelector(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, pod := range []labels.Set{
		{"app": "api", "tier": "web"},
		{"app": "api", "tier": "web", "pod-template-hash": "7d9f8b6c5d"},
		{"app": "api", "tier": "web", "track": "canary"},
		{"app": "api", "tier": "worker"},
		{"app": "api"},
		{},
	} {
		if sa.Matches(pod) != sb.Matches(pod) {
			return false
		}
	}
	return true
}

// A workload keeps only the annotations under annotations.Prefix (and its
// revision): every annotation eso-bridge reads or writes must carry it, or
// the cache would drop it.
func TestEveryAnnotationEsoBridgeNamesSurvivesTheTrim(t *testing.T) {
	files, err := filepath.Glob("../annotations/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("reading package annotations: %v", err)
	}
	named := 0
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		parsed, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range parsed.Decls {
			gen, ok := decl.(*ast.GenDecl)
			if !ok || gen.Tok != token.CONST {
				continue
			}
			for _, spec := range gen.Specs {
				values := spec.(*ast.ValueSpec).Values
				for i, name := range spec.(*ast.ValueSpec).Names {
					if !strings.HasPrefix(name.Name, "Annotation") || i >= len(values) {
						continue
					}
					lit, ok := values[i].(*ast.BasicLit)
					if !ok {
						continue
					}
					named++
					if key, _ := strconv.Unquote(lit.Value); !readOnWorkloads(key) {
						t.Errorf("%s = %s would be dropped from workloads by the cache", name.Name, lit.Value)
					}
				}
			}
		}
	}
	if named < 15 {
		t.Errorf("found %d annotation constants in package annotations, expected all of them (about 20)", named)
	}
}
