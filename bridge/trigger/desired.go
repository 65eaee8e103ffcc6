package trigger

import (
	"sort"
	"strings"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
	"github.com/eso-bridge/eso-bridge/providers"
)

// triggerTarget is what a trigger writes on an ExternalSecret.
type triggerTarget struct {
	// versions and arns are "key=value" pairs sorted by key.
	versions, arns string
	// changedAt is the vault's time of the newest change.
	changedAt time.Time
}

// desired returns the annotation es should carry, the vault's newest change
// time, and whether es must be triggered: its annotation differs, and either
// it was triggered before, or a version it reads moved while eso-bridge
// watched, or changed after ESO's last fetch (while eso-bridge was down). An
// ExternalSecret never triggered whose data is newer than every version is
// adopted as it is.
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
		pairs = append(pairs, ref.Key+"="+version.ID)
		if version.ARN != "" {
			arns = append(arns, ref.Key+"="+version.ARN)
		}
		if version.ChangedAt.After(newest) {
			newest = version.ChangedAt
		}
		t.mu.Lock()
		anyMoved = anyMoved || t.moved[ref]
		t.mu.Unlock()
		// A version that changed after ESO last fetched is one ESO does not
		// hold, even if eso-bridge first saw it at start (it was down, or a
		// new leader took over): ESO discards version IDs, so the vault's
		// change time is what tells. ESO's refreshTime is to the second, so
		// only a change past that second counts; a clock skew costs at most
		// one refresh that writes nothing.
		if version.ChangedAt.After(es.Status.RefreshTime.Add(time.Second)) {
			anyMoved = true
		}
	}
	if len(pairs) == 0 {
		return triggerTarget{}, false
	}
	sort.Strings(pairs)
	sort.Strings(arns)
	target := triggerTarget{versions: strings.Join(pairs, ","), arns: strings.Join(arns, ","), changedAt: newest}
	current := es.Annotations[annotations.AnnotationVaultVersions]
	return target, target.versions != current && (current != "" || anyMoved)
}
