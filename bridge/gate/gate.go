// Package gate decides whether a workload restarts now: a pure function of
// what the restart controller gathered about the workload's sources, which
// returns an action, a reason and a message. It imports no client.
package gate

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/eso-bridge/eso-bridge/bridge/eso"
)

// Source is what the gate knows about one ESO-managed Secret a workload uses.
// It is gathered by the reconciler; the gate only decides.
type Source struct {
	// ExternalSecret writes Secret.
	ExternalSecret string
	Secret         string
	// SecretFound is false while the Secret does not exist.
	SecretFound bool
	// DataHash is ESO's data-hash annotation on the Secret; empty if absent.
	DataHash string
	// ChangedAt is when the Secret's current data was written, or a little
	// later: the time eso-bridge saw the write when it was watching, else the
	// end of the second the API server recorded for the write.
	ChangedAt time.Time
	// Ready, Reason and Message are the ExternalSecret's Ready condition;
	// Reason is empty when ESO has not reported one.
	Ready   bool
	Reason  string
	Message string
	// StatusCurrent is true when ESO's status reflects the ExternalSecret's
	// latest metadata and its last refresh is no older than the Secret's last
	// write: ESO writes the Secret first and its status after, so only then
	// has ESO finished the sync that wrote the Secret.
	StatusCurrent bool
	// PendingVersion is a vault version that ESO has not written yet (from a
	// vault provider); empty when none is known.
	PendingVersion string
	// Traceparent is the trace of the rotation that wrote the Secret's
	// current data; the gate does not use it.
	Traceparent string
}

// Input is everything the gate decides on.
type Input struct {
	Now time.Time
	// RecordedHash is the source hash eso-bridge last adopted or rolled the
	// workload to; empty for a workload seen for the first time.
	RecordedHash string
	Sources      []Source
	// Settle is how long every source must have been quiet, so that sources
	// rotating together cause one restart.
	Settle time.Duration
	// MaxWait bounds how long a changed workload waits for its sources.
	MaxWait time.Duration
}

// Action is what the reconciler does with a decision.
type Action int

// The gate's possible actions.
const (
	// ActionNone: nothing to do (no change, or no sources).
	ActionNone Action = iota
	// ActionAdopt records the current hash on a workload seen for the first
	// time, without a restart.
	ActionAdopt
	// ActionWait retries after Decision.RequeueAfter.
	ActionWait
	// ActionHold keeps the restart back because ESO reports an error; a
	// Warning says why, and ESO's next status change retries.
	ActionHold
	// ActionTimedOut gives up waiting after MaxWait, with a Warning; the next
	// change of a source retries.
	ActionTimedOut
	// ActionRestart patches the pod template.
	ActionRestart
)

// Reasons the gate gives; they double as Event reasons and metric labels.
const (
	ReasonNoSources       = "NoSources"
	ReasonUpToDate        = "UpToDate"
	ReasonAdopted         = "Adopted"
	ReasonSecretMissing   = "SecretMissing"
	ReasonSyncError       = "SyncError"
	ReasonWaitingForESO   = "WaitingForESO"
	ReasonVersionPending  = "VaultVersionPending"
	ReasonSettling        = "Settling"
	ReasonGateTimedOut    = "GateTimedOut"
	ReasonSourcesRotated  = "SourcesRotated"
	reasonStatusNotLatest = "status does not reflect the latest change yet"
)

// Decision is the gate's answer: what to do, why, and the hash to record.
type Decision struct {
	Action  Action
	Reason  string
	Message string
	// Hash is the current source hash (empty while a Secret lacks its data-hash).
	Hash string
	// RequeueAfter is set for ActionWait.
	RequeueAfter time.Duration
	// Waited is how long the change has been waiting, for ActionRestart,
	// ActionTimedOut and ActionWait: since the newest source write.
	Waited time.Duration
	// Blocking names the ExternalSecret that holds or delays the restart.
	Blocking string
}

// waitPoll is how often a waiting workload is looked at again when no event
// is expected to wake it sooner.
const waitPoll = 2 * time.Second

// Gate decides whether a workload restarts now. The checks run in order:
//
//  1. no sources → nothing;
//  2. a Secret missing or without ESO's data-hash → wait (ESO has not written it);
//  3. first sight → adopt the current hash, no restart;
//  4. an ExternalSecret in SecretSyncedError → hold, with a Warning;
//  5. hash unchanged → nothing;
//  6. a source not Ready, status not yet current, a vault version pending, or
//     a write within the settle window → wait; past MaxWait → time out;
//  7. restart, once, with the hash of all sources together.
func Gate(in Input) Decision {
	if len(in.Sources) == 0 {
		return Decision{Action: ActionNone, Reason: ReasonNoSources, Message: "uses no ESO-managed Secret eso-bridge follows"}
	}
	for _, s := range in.Sources {
		if !s.SecretFound || s.DataHash == "" {
			return Decision{Action: ActionWait, Reason: ReasonSecretMissing, RequeueAfter: waitPoll, Blocking: s.ExternalSecret,
				Message: fmt.Sprintf("Secret %s of ExternalSecret %s has not been written by ESO yet", s.Secret, s.ExternalSecret)}
		}
	}
	hash := SourceHash(in.Sources)
	if in.RecordedHash == "" {
		return Decision{Action: ActionAdopt, Reason: ReasonAdopted, Hash: hash,
			Message: fmt.Sprintf("adopted with %d source(s), no restart", len(in.Sources))}
	}
	for _, s := range in.Sources {
		if !s.Ready && s.Reason == eso.ReasonSyncError {
			return Decision{Action: ActionHold, Reason: ReasonSyncError, Hash: hash, Blocking: s.ExternalSecret,
				Message: fmt.Sprintf("ExternalSecret %s failed to sync, restart held: %s", s.ExternalSecret, s.Message)}
		}
	}
	if hash == in.RecordedHash {
		return Decision{Action: ActionNone, Reason: ReasonUpToDate, Hash: hash, Message: "sources unchanged"}
	}

	newest := time.Time{}
	for _, s := range in.Sources {
		if s.ChangedAt.After(newest) {
			newest = s.ChangedAt
		}
	}
	waited := max(in.Now.Sub(newest), 0)
	wait := func(reason, blocking, message string, after time.Duration) Decision {
		if waited >= in.MaxWait {
			return Decision{Action: ActionTimedOut, Reason: ReasonGateTimedOut, Hash: hash, Waited: waited, Blocking: blocking,
				Message: fmt.Sprintf("gave up after %s: %s", waited.Round(time.Second), message)}
		}
		return Decision{Action: ActionWait, Reason: reason, Hash: hash, Waited: waited, Blocking: blocking, Message: message, RequeueAfter: after}
	}
	for _, s := range in.Sources {
		switch {
		case !s.Ready:
			return wait(ReasonWaitingForESO, s.ExternalSecret, fmt.Sprintf("ExternalSecret %s is not Ready (%s)", s.ExternalSecret, orUnknown(s.Reason)), waitPoll)
		case !s.StatusCurrent:
			return wait(ReasonWaitingForESO, s.ExternalSecret, fmt.Sprintf("ExternalSecret %s: %s", s.ExternalSecret, reasonStatusNotLatest), waitPoll)
		case s.PendingVersion != "":
			return wait(ReasonVersionPending, s.ExternalSecret, fmt.Sprintf("ExternalSecret %s: vault version %s not written by ESO yet", s.ExternalSecret, s.PendingVersion), waitPoll)
		}
	}
	if waited < in.Settle {
		return wait(ReasonSettling, "", fmt.Sprintf("a source changed %s ago; settling for %s", waited.Round(time.Millisecond), in.Settle), in.Settle-waited)
	}
	return Decision{Action: ActionRestart, Reason: ReasonSourcesRotated, Hash: hash, Waited: waited,
		Message: fmt.Sprintf("%d source(s) synced by ESO: %s", len(in.Sources), SourceNames(in.Sources))}
}

// SourceNames lists the ExternalSecrets of sources, sorted, for a message.
func SourceNames(sources []Source) string {
	names := make([]string, 0, len(sources))
	for _, s := range sources {
		names = append(names, s.ExternalSecret)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func orUnknown(reason string) string {
	if reason == "" {
		return "no status yet"
	}
	return reason
}
