package events

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestBoundKeepsEveryMessageWithinWhatAnEventHolds(t *testing.T) {
	for _, message := range []string{"short", strings.Repeat("x", MaxMessage), strings.Repeat("ü", MaxMessage)} {
		got := Bound(message)
		if len(got) > MaxMessage || !utf8.ValidString(got) {
			t.Errorf("Bound of %d bytes gave %d bytes (valid UTF-8: %v)", len(message), len(got), utf8.ValidString(got))
		}
		if len(message) <= MaxMessage && got != message {
			t.Errorf("Bound changed a message that fits")
		}
	}
}

func TestAWarningIsSentOncePerCause(t *testing.T) {
	w := &recentWarnings{sent: map[warningKey]time.Time{}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: "u1"}}
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	if !w.first(pod, "SyncError", ActionGate, "a", now) {
		t.Fatal("the first Warning was held back")
	}
	if w.first(pod, "SyncError", ActionGate, "a", now.Add(time.Minute)) {
		t.Error("the same Warning was sent again a minute later")
	}
	if !w.first(pod, "SyncError", ActionGate, "b", now.Add(time.Minute)) {
		t.Error("a Warning with another cause was held back")
	}
	if !w.first(pod, "SyncError", ActionGate, "a", now.Add(repeatAfter+time.Minute)) {
		t.Error("the Warning was not sent again before the API server expires it")
	}
}

func TestEachAnnotationHasItsOwnValidateAction(t *testing.T) {
	for annotation, want := range map[string]string{
		"eso-bridge.io/rollout":         "ValidateRollout",
		"eso-bridge.io/externalsecrets": "ValidateExternalsecrets",
		"eso-bridge.io/auto":            "ValidateAuto",
	} {
		if got := ValidateAction(annotation); got != want {
			t.Errorf("ValidateAction(%s) = %s, want %s", annotation, got, want)
		}
	}
}
