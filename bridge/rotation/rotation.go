package rotation

import (
	"slices"
	"time"
)

// Rotation is the timeline of one rotation of an ExternalSecret, read from
// cluster state alone: what `eso-bridge trace` prints and what the spans of
// the rotation's trace are made of.
//
// The API server records times to the second; eso-bridge's own annotations
// to the nanosecond. So that a table reads in order, no stage is placed before
// the stage it follows.
type Rotation struct {
	TraceID string `json:"traceID"`
	// Traceparent names the rotation's root span.
	Traceparent    string `json:"traceparent"`
	Namespace      string `json:"namespace"`
	ExternalSecret string `json:"externalSecret,omitempty"`
	Secret         string `json:"secret,omitempty"`
	// VaultVersions are the "key=versionID" pairs the trigger asked ESO to
	// fetch; empty when the rotation was not triggered by a vault provider.
	VaultVersions []string `json:"vaultVersions,omitempty"`
	// VaultARNs are "key=ARN" pairs, where the vault reports ARNs.
	VaultARNs []string `json:"vaultARNs,omitempty"`
	// VaultChangedAt is the vault's own time of the change.
	VaultChangedAt *time.Time `json:"vaultChangedAt,omitempty"`
	// TriggeredAt is when eso-bridge annotated the ExternalSecret.
	TriggeredAt *time.Time `json:"triggeredAt,omitempty"`
	// WrittenAt is when ESO wrote the Secret.
	WrittenAt             *time.Time `json:"writtenAt,omitempty"`
	SecretResourceVersion string     `json:"secretResourceVersion,omitempty"`
	// ConfirmedAt is when ESO's status confirmed the write.
	ConfirmedAt                   *time.Time        `json:"confirmedAt,omitempty"`
	ExternalSecretResourceVersion string            `json:"externalSecretResourceVersion,omitempty"`
	Workloads                     []WorkloadRollout `json:"workloads"`
	// Waiting says what has not happened yet, and why.
	Waiting []string `json:"waiting,omitempty"`
	// Held are the consumers ("kind/name") whose wave is held because a
	// rollout of an earlier wave stalled; Failure says so.
	Held    []string `json:"held,omitempty"`
	Failure string   `json:"failure,omitempty"`
	// restartsToCome counts the restarts the rotation is still to make or
	// to be read with: consumers whose wave has not come yet, and those
	// restarted for it while it was read.
	restartsToCome int
	// reads are the objects the rotation was read from, and those that may
	// yet join it, as "kind/name" keys (see ReadFrom).
	reads []string
}

// ReadFrom returns the objects of the rotation's namespace it was read
// from, as workload.Key keys ("externalsecret/db", "secret/db",
// "deployment/api"), with the consumers that may yet be restarted for it:
// until one of them changes, the rotation has not moved on. Empty when its
// ExternalSecret was not found: any change in the namespace may then
// concern it.
func (r *Rotation) ReadFrom() []string { return r.reads }

// WorkloadRollout is one workload restarted for a rotation.
type WorkloadRollout struct {
	Kind      string    `json:"kind"`
	Name      string    `json:"name"`
	PatchedAt time.Time `json:"patchedAt"`
	Revision  string    `json:"revision,omitempty"`
	// Outcome is RolloutComplete, RolloutStalled, or empty while it rolls.
	Outcome    string     `json:"outcome,omitempty"`
	Message    string     `json:"message,omitempty"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
	Pods       []PodReady `json:"pods"`
}

// PodReady is a new pod of a rollout and when it became Ready.
type PodReady struct {
	Name    string     `json:"name"`
	ReadyAt *time.Time `json:"readyAt,omitempty"`
}

// Start is when the rotation began: the vault's change, or ESO's write when
// no vault provider saw it.
func (r *Rotation) Start() time.Time {
	for _, t := range []*time.Time{r.VaultChangedAt, r.TriggeredAt, r.WrittenAt} {
		if t != nil {
			return *t
		}
	}
	if len(r.Workloads) > 0 {
		return r.Workloads[0].PatchedAt
	}
	return time.Time{}
}

// End is the latest time the timeline knows.
func (r *Rotation) End() time.Time {
	end := r.Start()
	later := func(t *time.Time) {
		if t != nil && t.After(end) {
			end = *t
		}
	}
	later(r.ConfirmedAt)
	later(r.WrittenAt)
	for i := range r.Workloads {
		w := &r.Workloads[i]
		later(&w.PatchedAt)
		later(w.FinishedAt)
		for _, p := range w.Pods {
			later(p.ReadyAt)
		}
	}
	return end
}

// Finished reports whether every stage has happened: ESO confirmed the write,
// every restarted workload's rollout completed or stalled, and no wave is
// still to come (a held wave is not: the rotation failed).
func (r *Rotation) Finished() bool {
	if r.ExternalSecret != "" && r.ConfirmedAt == nil || r.restartsToCome > 0 {
		return false
	}
	for _, w := range r.Workloads {
		if w.Outcome == "" {
			return false
		}
	}
	return true
}

// orderStages keeps each stage at or after the one it follows: the API
// server's times are truncated to the second.
func (r *Rotation) orderStages() {
	clamp := func(t *time.Time, after ...*time.Time) {
		for _, a := range after {
			if t != nil && a != nil && t.Before(*a) {
				*t = *a
			}
		}
	}
	clamp(r.TriggeredAt, r.VaultChangedAt)
	clamp(r.WrittenAt, r.VaultChangedAt, r.TriggeredAt)
	clamp(r.ConfirmedAt, r.WrittenAt)
	for i := range r.Workloads {
		w := &r.Workloads[i]
		for j := range w.Pods {
			clamp(w.Pods[j].ReadyAt, &w.PatchedAt)
		}
		// Pods in the order they became Ready: a pod Ready in the second of
		// the patch is moved to the patch, before one Ready the next second,
		// whatever their names.
		slices.SortStableFunc(w.Pods, func(a, b PodReady) int {
			switch {
			case a.ReadyAt == nil || b.ReadyAt == nil:
				return boolCompare(a.ReadyAt == nil, b.ReadyAt == nil)
			default:
				return a.ReadyAt.Compare(*b.ReadyAt)
			}
		})
		clamp(w.FinishedAt, &w.PatchedAt)
	}
}

// boolCompare orders false before true.
func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	default:
		return -1
	}
}
