// Package events sends eso-bridge's Kubernetes Events through one helper,
// with the reasons and actions as constants: the workload (or
// ExternalSecret) is the subject, the ExternalSecret concerned the related
// object. The gate's reasons are its own (package gate).
package events

import (
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
)

// Event reasons eso-bridge emits besides the gate's.
const (
	ReasonRestarted = "Restarted"
	// ReasonWouldRestart is a dry run's Restarted: the decision, no patch.
	ReasonWouldRestart      = "WouldRestart"
	ReasonRestartFailed     = "RestartFailed"
	ReasonInvalidAnnotation = "InvalidAnnotation"
	ReasonMissingReference  = "MissingReference"
	// ReasonRefreshDisabled warns that eso-bridge cannot speed up an ExternalSecret.
	ReasonRefreshDisabled = "RefreshDisabled"
	// ReasonVaultUnreadable warns that the vault refuses eso-bridge a look
	// at a remote secret an ExternalSecret reads.
	ReasonVaultUnreadable = "VaultUnreadable"
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

// ValidateAction is the action of a Warning about one annotation, e.g.
// "ValidateRollout" for eso-bridge.io/rollout. client-go folds Events with
// the same object, reason and action into one series that keeps the first
// message: problems with two annotations of one object need two actions to
// be both seen.
func ValidateAction(annotation string) string {
	name := annotation[strings.LastIndex(annotation, "/")+1:]
	var b strings.Builder
	b.WriteString(ActionValidate)
	upper := true
	for _, r := range name {
		switch {
		case r == '-' || r == '.' || r == '_':
			upper = true
		case upper:
			b.WriteString(strings.ToUpper(string(r)))
			upper = false
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// MaxMessage is the longest Event note the API server accepts, in bytes.
const MaxMessage = 1024

// repeatAfter is how long the same Warning about the same object is not
// sent again: a problem is reported once per cause, not once per reconcile,
// and again before the API server expires the Event (after an hour).
const repeatAfter = 10 * time.Minute

// Recorder emits eso-bridge's Events: the workload (or ExternalSecret) as the
// subject and the ExternalSecret concerned as the related object. Messages
// are cut to what the API server accepts, and a Warning already sent about
// the same object with the same words is not sent again for a while.
type Recorder struct {
	events.EventRecorder
	recent *recentWarnings
}

// NewRecorder wraps recorder.
func NewRecorder(recorder events.EventRecorder) Recorder {
	return Recorder{EventRecorder: recorder, recent: &recentWarnings{sent: map[warningKey]time.Time{}}}
}

// Normal records a Normal Event.
func (r Recorder) Normal(regarding, related runtime.Object, reason, action, message string) {
	r.Eventf(regarding, related, "Normal", reason, action, "%s", Bound(message))
}

// Warning records a Warning Event, unless the same one about the same object
// was recorded within repeatAfter; it reports whether it recorded it.
func (r Recorder) Warning(regarding, related runtime.Object, reason, action, message string) bool {
	message = Bound(message)
	if r.recent != nil && !r.recent.first(regarding, reason, action, message, time.Now()) {
		return false
	}
	r.Eventf(regarding, related, "Warning", reason, action, "%s", message)
	return true
}

// Bound cuts message to MaxMessage bytes, at a character boundary, marking the cut.
func Bound(message string) string {
	if len(message) <= MaxMessage {
		return message
	}
	const mark = "…"
	cut := MaxMessage - len(mark)
	for cut > 0 && !utf8.RuneStart(message[cut]) {
		cut--
	}
	return message[:cut] + mark
}

type warningKey struct {
	uid                     types.UID
	reason, action, message string
}

// recentWarnings remembers the Warnings sent lately.
type recentWarnings struct {
	mu     sync.Mutex
	sent   map[warningKey]time.Time
	purged time.Time
}

// first reports whether the Warning was not sent within repeatAfter, and
// records it as sent now.
func (w *recentWarnings) first(regarding runtime.Object, reason, action, message string, now time.Time) bool {
	accessor, err := meta.Accessor(regarding)
	if err != nil || accessor.GetUID() == "" {
		return true
	}
	key := warningKey{uid: accessor.GetUID(), reason: reason, action: action, message: message}
	w.mu.Lock()
	defer w.mu.Unlock()
	if at, ok := w.sent[key]; ok && now.Sub(at) < repeatAfter {
		return false
	}
	if now.Sub(w.purged) >= repeatAfter {
		for k, at := range w.sent {
			if now.Sub(at) >= repeatAfter {
				delete(w.sent, k)
			}
		}
		w.purged = now
	}
	w.sent[key] = now
	return true
}
