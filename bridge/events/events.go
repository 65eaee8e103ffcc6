// Package events sends eso-bridge's Kubernetes Events through one helper,
// with the reasons and actions as constants: the workload (or
// ExternalSecret) is the subject, the ExternalSecret concerned the related
// object. The gate's reasons are its own (package gate).
package events

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
)

// Event reasons eso-bridge emits besides the gate's.
const (
	ReasonRestarted         = "Restarted"
	ReasonRestartFailed     = "RestartFailed"
	ReasonInvalidAnnotation = "InvalidAnnotation"
	ReasonMissingReference  = "MissingReference"
	// ReasonRefreshDisabled warns that eso-bridge cannot speed up an ExternalSecret.
	ReasonRefreshDisabled = "RefreshDisabled"
	// ReasonRolloutComplete and ReasonRolloutStalled end a restart's
	// rollout; they are also the outcomes its rollout-result annotation records.
	ReasonRolloutComplete = "RolloutComplete"
	ReasonRolloutStalled  = "RolloutStalled"
)

// Event actions (events.k8s.io/v1 requires one).
const (
	ActionRestart  = "Restart"
	ActionGate     = "Gate"
	ActionValidate = "Validate"
	ActionObserve  = "Observe"
)

// Recorder emits eso-bridge's Events: the workload (or ExternalSecret) as the
// subject and the ExternalSecret concerned as the related object.
type Recorder struct {
	events.EventRecorder
}

// Normal records a Normal Event.
func (r Recorder) Normal(regarding, related runtime.Object, reason, action, message string) {
	r.Eventf(regarding, related, "Normal", reason, action, "%s", message)
}

// Warning records a Warning Event.
func (r Recorder) Warning(regarding, related runtime.Object, reason, action, message string) {
	r.Eventf(regarding, related, "Warning", reason, action, "%s", message)
}
