package trigger

import (
	"sort"
	"strings"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	"go.opentelemetry.io/otel/trace"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/bridge/traceparent"
	"github.com/eso-bridge/eso-bridge/providers"
)

// triggerTarget is what a trigger writes on an ExternalSecret.
type triggerTarget struct {
	// versions and arns are "key=value" pairs sorted by key.
	versions, arns string
	// changedAt is the vault's time of the newest change.
	changedAt time.Time
	// rotation starts the rotation's trace; ESO carries it to the Secret and
	// the restart to the pods.
	rotation trace.SpanContext
}

// write records the trigger, made at now, in an ExternalSecret's annotations
// (or the template of a ClusterExternalSecret's).
func (target triggerTarget) write(into map[string]string, now time.Time) {
	into[annotations.AnnotationVaultVersions] = target.versions
	into[annotations.AnnotationVaultChangedAt] = annotations.FormatTime(target.changedAt)
	into[annotations.AnnotationTriggeredAt] = annotations.FormatTime(now)
	into[annotations.AnnotationTraceparent] = traceparent.Format(target.rotation)
	if target.arns != "" {
		into[annotations.AnnotationVaultARNs] = target.arns
	}
}

// vaultClockSkew is how far the vault's clock may run behind the API
// server's without a rotation being taken for one ESO already fetched.
const vaultClockSkew = 100 * time.Millisecond

// heldByESO reports whether ESO's last refresh, recorded as refreshTime,
// certainly fetched a version the vault made current at changedAt. ESO
// discards version IDs, so only the times can tell, and refreshTime is the
// start of ESO's sync truncated to the second: a change before that second
// is held; a change in it or after is in doubt, and one spare refresh (a
// GetSecretValue that writes nothing) costs far less than a rotation missed
// until ESO's own refreshInterval, an hour by default.
func heldByESO(changedAt, refreshTime time.Time) bool {
	return !refreshTime.IsZero() && changedAt.Before(refreshTime.Add(-vaultClockSkew))
}

// desired returns the annotation es should carry, the vault's newest change
// time, and whether es must be triggered: its annotation differs, and either
// it was triggered before, or a version it reads moved while eso-bridge
// watched, or ESO may not hold it (see heldByESO). An ExternalSecret never
// triggered that certainly holds every version is adopted as it is.
func (t *VaultTrigger) desired(es *esv1.ExternalSecret, refs []providers.Ref) (triggerTarget, bool) {
	var pairs, arns []string
	var newest time.Time
	anyMoved := false
	var concrete []providers.Ref
	for _, ref := range refs {
		if ref.IsPattern() {
			concrete = append(concrete, t.Vault.Matching(ref)...)
		} else {
			concrete = append(concrete, ref)
		}
	}
	for _, ref := range concrete {
		version, ok := t.Vault.Current(ref)
		if !ok {
			continue
		}
		pairs = append(pairs, ref.Name()+"="+version.ID)
		if version.ARN != "" {
			arns = append(arns, ref.Name()+"="+version.ARN)
		}
		if version.ChangedAt.After(newest) {
			newest = version.ChangedAt
		}
		t.mu.Lock()
		anyMoved = anyMoved || t.moved[ref.Handle()]
		t.mu.Unlock()
		// A version ESO may not hold is triggered, even if eso-bridge first
		// saw it at start (it was down, or a new leader took over).
		if !heldByESO(version.ChangedAt, es.Status.RefreshTime.Time) {
			anyMoved = true
		}
	}
	if len(pairs) == 0 {
		return triggerTarget{}, false
	}
	sort.Strings(pairs)
	sort.Strings(arns)
	target := triggerTarget{versions: strings.Join(pairs, ","), arns: strings.Join(arns, ","), changedAt: newest}
	current := t.lastTriggered(es)
	return target, target.versions != current && (current != "" || anyMoved)
}
