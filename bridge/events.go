package bridge

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
)

// Event actions (events.k8s.io/v1 requires one).
const (
	actionRestart  = "Restart"
	actionGate     = "Gate"
	actionValidate = "Validate"
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
