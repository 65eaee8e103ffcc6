// Package gate decides whether a workload restarts now: a pure function of
// what the restart controller gathered about the workload's sources, which
// returns an action, a reason and a message. It imports no client.
package gate

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/eso-bridge/eso-bridge/bridge/digest"
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
	// Since is when the ExternalSecret was created: how long ESO has had to
	// write a Secret that is still missing.
	Since time.Time
	// Ready, Reason and Message are the ExternalSecret's Ready condition;
	// Reason is empty when ESO has not reported one.
	Ready   bool
	Reason  string
	Message string
	// StatusCurrent is true when ESO's status reflects the ExternalSecret's
	// latest metadata and was written after the Secret write that brought
	// its data-hash: ESO writes the Secret first and its status after, so
	// only then has ESO finished the sync that wrote the Secret.
	StatusCurrent bool
	// PendingVersion is a vault version that ESO has not written yet (from a
	// vault provider); empty when none is known.
	PendingVersion string
	// Traceparent is the trace of the rotation that wrote the Secret's
	// current data; the gate does not use it.
	Traceparent string
	// PodsOlder is true when a running container of the workload started
	// before ESO's current write of the Secret, a write made while
	// eso-bridge was installed: looked at only when the workload is seen for
	// the first time (created, or opted in, while eso-bridge was down).
	PodsOlder bool
}

// Input is everything the gate decides on.
type Input struct {
	Now time.Time
	// RecordedHash is the source hash eso-bridge last adopted or rolled the
	// workload to; empty for a workload seen for the first time.
	RecordedHash string
	// Recorded are the digests of each source's data (by Secret name) that
	// eso-bridge last adopted or rolled the workload to; nil when it has
	// recorded none (first sight, or recorded by an eso-bridge before 0.2,
	// which kept RecordedHash only).
	Recorded map[string]string
	Sources  []Source
	// Key keys the hash and digests the gate computes.
	Key digest.Key
	// RecordedKeyID is the ID of the key Recorded was made with; "" when
	// recorded before digests were keyed.
	RecordedKeyID string
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
	ReasonReadopted       = "SourcesChanged"
	ReasonRecorded        = "Recorded"
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
	// Hash is the current source hash, over the sources whose Secret ESO
	// has written.
	Hash string
	// Digests is the record to keep for ActionAdopt and ActionRestart: each
	// source's digest, the last one known for a source whose Secret is gone.
	Digests map[string]string
	// RequeueAfter is set for ActionWait.
	RequeueAfter time.Duration
	// Waited is how long the change has been waiting, for ActionRestart,
	// ActionTimedOut and ActionWait: since the newest source write.
	Waited time.Duration
	// Blocking names the ExternalSecret that holds or delays the restart.
	Blocking string
	// Rotated names, for ActionRestart, the ExternalSecrets whose change
	// the restart is for (those that rotated and those rotating with them).
	Rotated []string
}

// waitPoll is how often a waiting workload is looked at again when no event
// is expected to wake it sooner.
const waitPoll = 2 * time.Second

// Gate decides whether a workload restarts now. A restart means that the
// data of a source the pods already used has changed: each source's digest
// is recorded, and only a source whose recorded digest differs is a change.
// A source added or removed (the user edited the pod template, an opt-in
// changed, an ExternalSecret was deleted) is re-adopted without a restart,
// and only the sources that changed, or are about to (a vault version
// pending), are waited for. A source whose Secret ESO has not written holds
// nothing: it keeps its last record, if any, and counts once it is written.
//
//  1. no sources → nothing;
//  2. first sight → adopt the sources written so far, no restart;
//  3. no recorded digest changed → nothing, or re-adopt a changed set;
//  4. a changed (or pending) source in SecretSyncedError → hold, with a Warning;
//  5. a changed (or pending) source not Ready, its status not yet current, a
//     vault version pending, or a write within the settle window → wait;
//     past MaxWait → time out;
//  6. restart, once, with the hash of all sources together.
//
// A workload recorded by an eso-bridge that kept only the combined hash is
// decided as it decided (legacyGate), and its digests are recorded.
func Gate(in Input) Decision {
	if len(in.Sources) == 0 {
		return Decision{Action: ActionNone, Reason: ReasonNoSources, Message: "uses no ESO-managed Secret eso-bridge follows"}
	}
	if in.Recorded == nil && in.RecordedHash != "" {
		return legacyGate(in)
	}
	var written, missing []Source
	for _, s := range in.Sources {
		if s.SecretFound && s.DataHash != "" {
			written = append(written, s)
		} else {
			missing = append(missing, s)
		}
	}
	hash := SourceHash(in.Key, written)
	digests := map[string]string{}
	for _, s := range written {
		digests[s.Secret] = Digest(in.Key, s)
	}
	// The record is compared under the key it was made with: the current
	// one, or none (recorded before keys). A record made with a key since
	// replaced cannot be compared at all.
	rekeyed := false
	if in.Recorded != nil && in.RecordedKeyID != in.Key.ID() {
		if in.RecordedKeyID != "" {
			return Decision{Action: ActionAdopt, Reason: ReasonReadopted, Hash: hash, Digests: digests,
				Message: "the digest key was replaced since the sources were recorded, so no change can be told; re-adopted without a restart"}
		}
		rekeyed = true
	}
	// A source not written keeps its record, unless that record is not
	// under the current key: then it is re-adopted once written.
	for _, s := range missing {
		if old, ok := in.Recorded[s.Secret]; ok && !rekeyed {
			digests[s.Secret] = old
		}
	}
	if in.Recorded == nil {
		if len(written) == 0 {
			return Decision{Action: ActionNone, Reason: ReasonSecretMissing, Blocking: missing[0].ExternalSecret,
				Message: fmt.Sprintf("no source's Secret has been written by ESO yet (%s); its creation wakes the workload", SourceNames(missing))}
		}
		// Pods older than a write eso-bridge did not see hold what was
		// there before it: restarted once, as any change is.
		var missed []Source
		for _, s := range written {
			if s.PodsOlder {
				missed = append(missed, s)
			}
		}
		if len(missed) > 0 {
			d := decide(in, missed, hash)
			d.Digests = digests
			if d.Action == ActionRestart {
				d.Message = fmt.Sprintf("first seen with pods started before ESO last wrote %s (while eso-bridge was not watching): restarted once", SourceNames(missed))
			}
			return d
		}
		return Decision{Action: ActionAdopt, Reason: ReasonAdopted, Hash: hash, Digests: digests,
			Message: fmt.Sprintf("adopted with %d source(s), no restart", len(written))}
	}
	// What the record is compared with: the new record itself, or the
	// written sources' digests as they were made before keys.
	compared := digests
	if rekeyed {
		compared = map[string]string{}
		for _, s := range written {
			compared[s.Secret] = Digest(digest.Unkeyed, s)
		}
	}
	var changed []Source
	for _, s := range written {
		if old, ok := in.Recorded[s.Secret]; ok && old != compared[s.Secret] {
			changed = append(changed, s)
		}
	}
	if len(changed) == 0 {
		if !maps.Equal(compared, in.Recorded) {
			return Decision{Action: ActionAdopt, Reason: ReasonReadopted, Hash: hash, Digests: digests,
				Message: "the set of sources changed (" + setChange(in.Recorded, digests) + "); no source's data did, so no restart"}
		}
		if rekeyed {
			return Decision{Action: ActionAdopt, Reason: ReasonRecorded, Hash: hash, Digests: digests,
				Message: "sources unchanged; their digests recorded again, keyed, no restart"}
		}
		if d, failed := syncError(in.Sources, hash); failed {
			return d // reported, though it holds nothing
		}
		return Decision{Action: ActionNone, Reason: ReasonUpToDate, Hash: hash, Message: "sources unchanged"}
	}
	// Gated: what changed, and what is about to (sources rotating
	// together restart once). An unchanged source holds nothing.
	gated := changed
	for _, s := range written {
		if s.PendingVersion != "" && !slices.ContainsFunc(changed, func(c Source) bool { return c.Secret == s.Secret }) {
			gated = append(gated, s)
		}
	}
	d := decide(in, gated, hash)
	d.Digests = digests
	if d.Action == ActionRestart {
		d.Message = fmt.Sprintf("%d source(s) rotated and synced by ESO: %s", len(changed), SourceNames(changed))
	}
	return d
}

// Unwritten returns the sources whose Secret ESO has still not written
// MaxWait after their ExternalSecret was created, and when the next source
// will pass that age (zero when none is left to). They hold nothing, but a
// user must learn that a Secret the workload uses never came.
func Unwritten(in Input) (stuck []Source, recheckAfter time.Duration) {
	for _, s := range in.Sources {
		if s.SecretFound && s.DataHash != "" {
			continue
		}
		age := in.Now.Sub(s.Since)
		if age >= in.MaxWait {
			stuck = append(stuck, s)
		} else if left := in.MaxWait - age; recheckAfter == 0 || left < recheckAfter {
			recheckAfter = left
		}
	}
	return stuck, recheckAfter
}

// legacyGate decides for a workload whose record is a combined hash only:
//
//  1. no sources → nothing;
//  2. a Secret missing or without ESO's data-hash → wait (ESO has not written it);
//  3. first sight → adopt the current hash, no restart;
//  4. an ExternalSecret in SecretSyncedError → hold, with a Warning;
//  5. hash unchanged → nothing;
//  6. a source not Ready, status not yet current, a vault version pending, or
//     a write within the settle window → wait; past MaxWait → time out;
//  7. restart, once, with the hash of all sources together.
func legacyGate(in Input) Decision {
	for _, s := range in.Sources {
		if !s.SecretFound || s.DataHash == "" {
			return Decision{Action: ActionWait, Reason: ReasonSecretMissing, RequeueAfter: waitPoll, Blocking: s.ExternalSecret,
				Message: fmt.Sprintf("Secret %s of ExternalSecret %s has not been written by ESO yet", s.Secret, s.ExternalSecret)}
		}
	}
	// Recorded before digests were keyed (compared unkeyed), or only on the
	// pod template (keyed); recorded keyed.
	hash := SourceHash(in.Key, in.Sources)
	digests := map[string]string{}
	for _, s := range in.Sources {
		digests[s.Secret] = Digest(in.Key, s)
	}
	if d, failed := syncError(in.Sources, hash); failed {
		return d
	}
	if in.RecordedHash == hash || in.RecordedHash == SourceHash(digest.Unkeyed, in.Sources) {
		return Decision{Action: ActionAdopt, Reason: ReasonRecorded, Hash: hash, Digests: digests,
			Message: "sources unchanged; each source's digest recorded, no restart"}
	}
	d := decide(in, in.Sources, hash)
	d.Digests = digests
	return d
}

// syncError holds the restart for the first source in ESO's
// SecretSyncedError, with a Warning naming it.
func syncError(sources []Source, hash string) (Decision, bool) {
	for _, s := range sources {
		if !s.Ready && s.Reason == eso.ReasonSyncError {
			return Decision{Action: ActionHold, Reason: ReasonSyncError, Hash: hash, Blocking: s.ExternalSecret,
				Message: fmt.Sprintf("ExternalSecret %s failed to sync, restart held: %s", s.ExternalSecret, s.Message)}, true
		}
	}
	return Decision{}, false
}

// decide gates a restart on the sources gated: it waits while one is not
// synced, not confirmed, pending in the vault or within the settle window of
// its write, and gives up after MaxWait.
func decide(in Input, gated []Source, hash string) Decision {
	if d, failed := syncError(gated, hash); failed {
		return d
	}
	newest := time.Time{}
	for _, s := range gated {
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
	for _, s := range gated {
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
	rotated := make([]string, 0, len(gated))
	for _, s := range gated {
		rotated = append(rotated, s.ExternalSecret)
	}
	return Decision{Action: ActionRestart, Reason: ReasonSourcesRotated, Hash: hash, Waited: waited, Rotated: rotated,
		Message: fmt.Sprintf("%d source(s) synced by ESO: %s", len(gated), SourceNames(gated))}
}

// setChange says which sources were added and removed between two records.
func setChange(before, after map[string]string) string {
	var added, removed []string
	for name := range after {
		if _, ok := before[name]; !ok {
			added = append(added, name)
		}
	}
	for name := range before {
		if _, ok := after[name]; !ok {
			removed = append(removed, name)
		}
	}
	sort.Strings(added)
	sort.Strings(removed)
	var parts []string
	if len(added) > 0 {
		parts = append(parts, "added "+strings.Join(added, ", "))
	}
	if len(removed) > 0 {
		parts = append(parts, "removed "+strings.Join(removed, ", "))
	}
	return strings.Join(parts, "; ")
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
