// Package eso holds what eso-bridge knows of External Secrets Operator's
// behaviour (v0.20's controllers are the reference): the Secret an
// ExternalSecret writes, the digest ESO puts on it, and how ESO's status says
// that a sync finished. It imports no client, and none of ESO's controller
// packages, whose dependencies (sprig, jwx, pkcs12) the controller does not
// need.
package eso

import (
	"crypto/sha3"
	"fmt"
	"strconv"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// DataHashAnnotation is the annotation ESO writes on each Secret it manages:
// a digest of the Secret's data, which changes exactly when the data does.
const DataHashAnnotation = "reconcile.external-secrets.io/data-hash"

// ReasonSyncError is ESO's Ready reason for a failed sync.
const ReasonSyncError = esv1.ConditionReasonSecretSyncedError

// TargetSecret is the name of the Secret an ExternalSecret writes.
func TargetSecret(es *esv1.ExternalSecret) string {
	if es.Spec.Target.Name != "" {
		return es.Spec.Target.Name
	}
	return es.Name
}

// ResourceVersion is what ESO records as status.syncedResourceVersion once it
// has synced the ExternalSecret with meta: the generation and a digest of the
// labels and annotations. It is ESO's own formula (GetResourceVersion in
// pkg/controllers/util), written here so that the controller does not link
// ESO's controller packages; a test compares the two on many inputs.
func ResourceVersion(meta metav1.ObjectMeta) string {
	// ESO formats this very struct with %+v: field names and order matter,
	// the type's name does not appear.
	type hashed struct {
		annotations map[string]string
		labels      map[string]string
	}
	text := fmt.Sprintf("%+v", hashed{annotations: meta.Annotations, labels: meta.Labels})
	return fmt.Sprintf("%d-%x", meta.GetGeneration(), sha3.Sum224([]byte(text)))
}

// StatusReflectsSpec reports whether ESO's status describes a sync of es as
// it is now: its generation, labels and annotations.
func StatusReflectsSpec(es *esv1.ExternalSecret) bool {
	return es.Status.SyncedResourceVersion == ResourceVersion(es.ObjectMeta)
}

// NoRefresh says why ESO will not sync es again when its labels or
// annotations change — which is how eso-bridge makes ESO fetch a rotation —
// or "" when it will (ESO's shouldRefresh, v0.20): refreshPolicy CreatedOnce
// syncs once, Periodic with a refreshInterval of 0 never again; OnChange and
// Periodic with an interval do.
func NoRefresh(es *esv1.ExternalSecret) string {
	switch {
	case es.Spec.RefreshPolicy == esv1.RefreshPolicyCreatedOnce:
		return "refreshPolicy is CreatedOnce"
	case es.Spec.RefreshPolicy == esv1.RefreshPolicyOnChange:
		return ""
	case es.Spec.RefreshInterval != nil && es.Spec.RefreshInterval.Duration <= 0:
		return "refreshInterval is 0"
	}
	return ""
}

// Ready returns es's Ready condition; nil before ESO reported one.
func Ready(es *esv1.ExternalSecret) *esv1.ExternalSecretStatusCondition {
	for i := range es.Status.Conditions {
		if es.Status.Conditions[i].Type == esv1.ExternalSecretReady {
			return &es.Status.Conditions[i]
		}
	}
	return nil
}

// ReadyState is es's Ready condition as the gate reads it: ready only when
// True with reason SecretSynced; reason and message are "" before ESO
// reported one.
func ReadyState(es *esv1.ExternalSecret) (ready bool, reason, message string) {
	cond := Ready(es)
	if cond == nil {
		return false, "", ""
	}
	return cond.Status == corev1.ConditionTrue && cond.Reason == esv1.ConditionReasonSecretSynced, cond.Reason, cond.Message
}

// Synced reports whether ESO's status is Ready and reflects es's latest metadata.
func Synced(es *esv1.ExternalSecret) bool {
	if !StatusReflectsSpec(es) {
		return false
	}
	cond := Ready(es)
	return cond != nil && cond.Status == corev1.ConditionTrue
}

// ReadyMessage says where ESO's Ready condition stands, for a reader.
func ReadyMessage(es *esv1.ExternalSecret) string {
	if cond := Ready(es); cond != nil {
		return fmt.Sprintf("Ready=%s %s %s", cond.Status, cond.Reason, cond.Message)
	}
	return "ESO has reported no status yet"
}

// LastWrite is the newest write the API server recorded on the object.
func LastWrite(obj *metav1.PartialObjectMetadata) time.Time {
	newest := obj.CreationTimestamp.Time
	for _, entry := range obj.ManagedFields {
		if entry.Time != nil && entry.Time.After(newest) {
			newest = entry.Time.Time
		}
	}
	return newest
}

// StatusWritten is when ESO last wrote the ExternalSecret's status, to the
// second. ESO's refreshTime is when its sync *started*, which can fall in the
// second before the Secret write; the API server's record of the status write
// comes after the Secret write, which is the order the gate checks.
func StatusWritten(es *esv1.ExternalSecret) time.Time {
	newest := es.Status.RefreshTime.Time
	for _, entry := range es.ManagedFields {
		if entry.Subresource == "status" && entry.Time != nil && entry.Time.After(newest) {
			newest = entry.Time.Time
		}
	}
	return newest
}

// StatusWrittenAfter reports whether es, as read, was written after the
// Secret write that made secretResourceVersion; exact is false when either
// resource version is not a number. ESO writes the Secret, then the status:
// an ExternalSecret whose status reflects its metadata and that was written
// after the Secret write carries the status of that write's sync, or a
// later one. The API server's times are whole seconds and cannot tell a
// status written in the same second before the write from one after it;
// etcd's revisions, which resource versions are, can. Kubernetes calls
// resource versions opaque; every API server backed by etcd numbers them
// from one global revision, and where one does not, exact is false.
func StatusWrittenAfter(es *esv1.ExternalSecret, secretResourceVersion string) (after, exact bool) {
	esRevision, err := strconv.ParseUint(es.ResourceVersion, 10, 64)
	if err != nil {
		return false, false
	}
	secretRevision, err := strconv.ParseUint(secretResourceVersion, 10, 64)
	if err != nil {
		return false, false
	}
	return esRevision > secretRevision, true
}

// ManagedSecrets selects the Secrets ESO writes: it labels each of them
// managed, whatever the ExternalSecret's creation policy, and takes a Secret
// without the label for one it has yet to write.
func ManagedSecrets() labels.Selector {
	return labels.SelectorFromSet(labels.Set{esv1.LabelManaged: esv1.LabelManagedValue})
}

// SecretMetadata is an empty Secret read as metadata only: no secret data is
// ever held or read.
func SecretMetadata() *metav1.PartialObjectMetadata {
	secret := &metav1.PartialObjectMetadata{}
	secret.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	return secret
}
