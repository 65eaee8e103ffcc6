package annotations

import (
	"encoding/json"
	"time"
)

// RolloutResult is the value of AnnotationRolloutResult: how the rollout of
// a restart ended.
type RolloutResult struct {
	// Outcome is RolloutComplete or RolloutStalled.
	Outcome    string    `json:"outcome"`
	FinishedAt time.Time `json:"finishedAt"`
	// RestartedAt is the pod template's AnnotationRestartedAt of the restart
	// whose rollout this is.
	RestartedAt string `json:"restartedAt"`
	Revision    string `json:"revision,omitempty"`
	Message     string `json:"message,omitempty"`
}

// ParseRolloutResult reads AnnotationRolloutResult; false when absent or
// garbled (anyone can edit an annotation).
func ParseRolloutResult(value string) (RolloutResult, bool) {
	var r RolloutResult
	if value == "" || json.Unmarshal([]byte(value), &r) != nil {
		return RolloutResult{}, false
	}
	return r, true
}

// String writes r as the annotation holds it.
func (r RolloutResult) String() string {
	// A struct of strings and a time always marshals.
	data, _ := json.Marshal(r)
	return string(data)
}

// RolloutUnreported reports whether the restart recorded in a pod
// template's annotations (template) has had no rollout result recorded
// on its workload (own) yet: the rollout observer still follows it, or is
// about to.
func RolloutUnreported(own, template map[string]string) bool {
	restartedAt := template[AnnotationRestartedAt]
	if restartedAt == "" {
		return false
	}
	result, _ := ParseRolloutResult(own[AnnotationRolloutResult])
	return result.RestartedAt != restartedAt
}
