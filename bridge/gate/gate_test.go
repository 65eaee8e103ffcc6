package gate

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eso-bridge/eso-bridge/bridge/digest"
	"github.com/eso-bridge/eso-bridge/bridge/digest/digesttest"
)

var gateNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// source builds a synced, settled source; options change one thing each.
func source(name string, opts ...func(*Source)) Source {
	s := Source{
		ExternalSecret: name, Secret: name, SecretFound: true, DataHash: "hash-" + name,
		ChangedAt: gateNow.Add(-time.Minute), Ready: true, Reason: "SecretSynced", StatusCurrent: true,
	}
	for _, opt := range opts {
		opt(&s)
	}
	return s
}

func withHash(h string) func(*Source) { return func(s *Source) { s.DataHash = h } }
func changedAgo(d time.Duration) func(*Source) {
	return func(s *Source) { s.ChangedAt = gateNow.Add(-d) }
}
func notReady(reason, message string) func(*Source) {
	return func(s *Source) { s.Ready, s.Reason, s.Message = false, reason, message }
}
func statusStale(s *Source)                { s.StatusCurrent = false }
func secretMissing(s *Source)              { s.SecretFound, s.DataHash = false, "" }
func pending(version string) func(*Source) { return func(s *Source) { s.PendingVersion = version } }

// TestGate decides for workloads recorded with a combined hash only (by an
// eso-bridge before per-source records) and for workloads seen first.
func TestGate(t *testing.T) {
	before := SourceHash(digest.Unkeyed, []Source{source("db"), source("api")})
	rotated := []Source{source("db", withHash("new"), changedAgo(10*time.Second)), source("api")}

	tests := map[string]struct {
		recorded    string
		sources     []Source
		wantAction  Action
		wantReason  string
		wantMessage string
		wantAfter   time.Duration
	}{
		"a workload without sources does nothing": {
			recorded: before, sources: nil,
			wantAction: ActionNone, wantReason: ReasonNoSources,
		},
		"a workload seen for the first time is adopted without a restart": {
			recorded: "", sources: rotated,
			wantAction: ActionAdopt, wantReason: ReasonAdopted,
		},
		"a workload seen for the first time is adopted even while a source fails to sync": {
			recorded: "", sources: []Source{source("db", notReady("SecretSyncedError", "not found"))},
			wantAction: ActionAdopt, wantReason: ReasonAdopted,
		},
		"unchanged sources under a combined record get each source's digest recorded, no restart": {
			recorded: before, sources: []Source{source("db"), source("api")},
			wantAction: ActionAdopt, wantReason: ReasonRecorded,
		},
		"rotated and synced sources restart once": {
			recorded: before, sources: rotated,
			wantAction: ActionRestart, wantReason: ReasonSourcesRotated, wantMessage: "api, db",
		},
		"a Secret ESO has not written yet waits": {
			recorded: before, sources: []Source{source("db", secretMissing), source("api")},
			wantAction: ActionWait, wantReason: ReasonSecretMissing, wantMessage: "Secret db", wantAfter: waitPoll,
		},
		"a sync error holds the restart and names the ExternalSecret": {
			recorded: before, sources: []Source{source("db", withHash("new"), notReady("SecretSyncedError", "secret not found")), source("api")},
			wantAction: ActionHold, wantReason: ReasonSyncError, wantMessage: "ExternalSecret db failed to sync, restart held: secret not found",
		},
		"a sync error is reported even when nothing changed": {
			recorded: before, sources: []Source{source("db", notReady("SecretSyncedError", "denied")), source("api")},
			wantAction: ActionHold, wantReason: ReasonSyncError,
		},
		"a source not Ready yet waits": {
			recorded: before, sources: []Source{source("db", withHash("new"), notReady("", "")), source("api")},
			wantAction: ActionWait, wantReason: ReasonWaitingForESO, wantMessage: "not Ready (no status yet)", wantAfter: waitPoll,
		},
		"a Secret written before ESO's status confirms the sync waits": {
			recorded: before, sources: []Source{source("db", withHash("new"), statusStale), source("api")},
			wantAction: ActionWait, wantReason: ReasonWaitingForESO, wantMessage: reasonStatusNotLatest, wantAfter: waitPoll,
		},
		"a vault version ESO has not written yet waits": {
			recorded: before, sources: []Source{source("db", withHash("new"), pending("v2")), source("api")},
			wantAction: ActionWait, wantReason: ReasonVersionPending, wantMessage: "vault version v2",
		},
		"a source written within the settle window waits for the rest of it": {
			recorded: before, sources: []Source{source("db", withHash("new"), changedAgo(500*time.Millisecond)), source("api")},
			wantAction: ActionWait, wantReason: ReasonSettling, wantAfter: 1500 * time.Millisecond,
		},
		"sources rotating together wait for the newest write": {
			recorded: before, sources: []Source{source("db", withHash("new"), changedAgo(5*time.Second)), source("api", withHash("new"), changedAgo(time.Second))},
			wantAction: ActionWait, wantReason: ReasonSettling, wantAfter: time.Second,
		},
		"a wait longer than the maximum times out": {
			recorded: before, sources: []Source{source("db", withHash("new"), changedAgo(11*time.Minute), statusStale), source("api", changedAgo(time.Hour))},
			wantAction: ActionTimedOut, wantReason: ReasonGateTimedOut, wantMessage: "gave up after 11m0s",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := Gate(Input{Now: gateNow, RecordedHash: tt.recorded, Sources: tt.sources, Settle: 2 * time.Second, MaxWait: 10 * time.Minute})
			if got.Action != tt.wantAction || got.Reason != tt.wantReason {
				t.Fatalf("Gate() = action %d reason %s (%s), want action %d reason %s", got.Action, got.Reason, got.Message, tt.wantAction, tt.wantReason)
			}
			if !strings.Contains(got.Message, tt.wantMessage) {
				t.Errorf("message %q does not contain %q", got.Message, tt.wantMessage)
			}
			if tt.wantAfter != 0 && got.RequeueAfter != tt.wantAfter {
				t.Errorf("RequeueAfter = %s, want %s", got.RequeueAfter, tt.wantAfter)
			}
			if got.Action == ActionRestart || got.Action == ActionAdopt {
				if want := SourceHash(digest.Unkeyed, tt.sources); got.Hash != want {
					t.Errorf("Hash = %s, want %s", got.Hash, want)
				}
			}
		})
	}
}

func TestSourceHashIgnoresOrderAndNamesEverySource(t *testing.T) {
	ab := SourceHash(digest.Unkeyed, []Source{source("a"), source("b")})
	if ba := SourceHash(digest.Unkeyed, []Source{source("b"), source("a")}); ab != ba {
		t.Errorf("hash depends on order: %s vs %s", ab, ba)
	}
	if changed := SourceHash(digest.Unkeyed, []Source{source("a"), source("b", withHash("other"))}); changed == ab {
		t.Error("a changed data-hash left the source hash unchanged")
	}
	if renamed := SourceHash(digest.Unkeyed, []Source{source("a"), source("c", withHash("hash-b"))}); renamed == ab {
		t.Error("a different Secret with the same data-hash left the source hash unchanged")
	}
}

// recordOf is the per-source record of sources.
func recordOf(sources ...Source) map[string]string {
	record := map[string]string{}
	for _, s := range sources {
		record[s.Secret] = Digest(digest.Unkeyed, s)
	}
	return record
}

// With a per-source record, a restart means that the data of a source the
// pods already used changed; the set of sources changing is re-adopted, and
// a source that did not change holds nothing.
func TestGateWithPerSourceRecord(t *testing.T) {
	recorded := recordOf(source("db"), source("api"))
	rotatedDB := source("db", withHash("new"), changedAgo(10*time.Second))
	tests := map[string]struct {
		sources     []Source
		wantAction  Action
		wantReason  string
		wantMessage string
		wantDigests map[string]string
	}{
		"unchanged sources cause no restart": {
			sources:    []Source{source("db"), source("api")},
			wantAction: ActionNone, wantReason: ReasonUpToDate,
		},
		"a rotated and synced source restarts once, named": {
			sources:    []Source{rotatedDB, source("api")},
			wantAction: ActionRestart, wantReason: ReasonSourcesRotated, wantMessage: "1 source(s) rotated and synced by ESO: db",
			wantDigests: recordOf(rotatedDB, source("api")),
		},
		"a Secret added to the pod template is re-adopted, not restarted": {
			sources:    []Source{source("db"), source("api"), source("cache")},
			wantAction: ActionAdopt, wantReason: ReasonReadopted, wantMessage: "added cache",
			wantDigests: recordOf(source("db"), source("api"), source("cache")),
		},
		"a source removed (ExternalSecret deleted, opt-in withdrawn) is re-adopted, not restarted": {
			sources:    []Source{source("db")},
			wantAction: ActionAdopt, wantReason: ReasonReadopted, wantMessage: "removed api",
			wantDigests: recordOf(source("db")),
		},
		"a source whose Secret was never written holds nothing": {
			sources:    []Source{rotatedDB, source("api"), source("never", secretMissing)},
			wantAction: ActionRestart, wantReason: ReasonSourcesRotated,
			wantDigests: recordOf(rotatedDB, source("api")),
		},
		"a source whose Secret is gone keeps its record, so its return with other data is a change": {
			sources:    []Source{source("db"), source("api", secretMissing)},
			wantAction: ActionNone, wantReason: ReasonUpToDate,
		},
		"an unchanged source that is not current does not hold a changed one": {
			sources:    []Source{rotatedDB, source("api", statusStale, notReady("", ""))},
			wantAction: ActionRestart, wantReason: ReasonSourcesRotated,
		},
		"an unchanged source in a sync error does not hold a changed one": {
			sources:    []Source{rotatedDB, source("api", notReady("SecretSyncedError", "denied"))},
			wantAction: ActionRestart, wantReason: ReasonSourcesRotated,
		},
		"a sync error is still reported when nothing changed": {
			sources:    []Source{source("db"), source("api", notReady("SecretSyncedError", "denied"))},
			wantAction: ActionHold, wantReason: ReasonSyncError,
		},
		"a changed source not confirmed by ESO waits": {
			sources:    []Source{source("db", withHash("new"), statusStale), source("api")},
			wantAction: ActionWait, wantReason: ReasonWaitingForESO,
		},
		"an unchanged source with a vault version pending is waited for: they rotate together": {
			sources:    []Source{rotatedDB, source("api", pending("v2"))},
			wantAction: ActionWait, wantReason: ReasonVersionPending, wantMessage: "ExternalSecret api",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := Gate(Input{Now: gateNow, RecordedHash: "combined", Recorded: recorded, Sources: tt.sources, Settle: 2 * time.Second, MaxWait: 10 * time.Minute})
			if got.Action != tt.wantAction || got.Reason != tt.wantReason {
				t.Fatalf("Gate() = action %d reason %s (%s), want action %d reason %s", got.Action, got.Reason, got.Message, tt.wantAction, tt.wantReason)
			}
			if !strings.Contains(got.Message, tt.wantMessage) {
				t.Errorf("message %q does not contain %q", got.Message, tt.wantMessage)
			}
			if tt.wantDigests != nil && !maps.Equal(got.Digests, tt.wantDigests) {
				t.Errorf("Digests = %v, want %v", got.Digests, tt.wantDigests)
			}
		})
	}
}

// First sight adopts what ESO has written so far; a workload none of whose
// Secrets exists yet waits for nothing: their creation wakes it.
func TestFirstSightAdoptsTheWrittenSources(t *testing.T) {
	got := Gate(Input{Now: gateNow, Sources: []Source{source("db"), source("never", secretMissing)}, MaxWait: time.Minute})
	if got.Action != ActionAdopt || !maps.Equal(got.Digests, recordOf(source("db"))) {
		t.Errorf("Gate() = %+v, want db adopted", got)
	}
	got = Gate(Input{Now: gateNow, Sources: []Source{source("never", secretMissing)}, MaxWait: time.Minute})
	if got.Action != ActionNone || got.Reason != ReasonSecretMissing || got.RequeueAfter != 0 {
		t.Errorf("Gate() = %+v, want nothing to do until the Secret exists", got)
	}
}

// A Secret that never came is reported once it is MaxWait overdue, and the
// workload is looked at again when the next one will be.
func TestUnwrittenSourcesAreReportedPastTheMaximumWait(t *testing.T) {
	old := source("old", secretMissing, func(s *Source) { s.Since = gateNow.Add(-11 * time.Minute) })
	young := source("young", secretMissing, func(s *Source) { s.Since = gateNow.Add(-8 * time.Minute) })
	stuck, recheck := Unwritten(Input{Now: gateNow, Sources: []Source{source("db"), old, young}, MaxWait: 10 * time.Minute})
	if len(stuck) != 1 || stuck[0].Secret != "old" || recheck != 2*time.Minute {
		t.Errorf("Unwritten = %v, recheck %s; want old, and young looked at again in 2m", stuck, recheck)
	}
}

// Digests recorded before keys are compared as they were made and recorded
// again keyed, without a restart unless the data changed; digests made with
// a key since replaced cannot be compared and are re-adopted, never taken
// for a change.
func TestGateAcrossDigestKeys(t *testing.T) {
	key, replaced := digesttest.Key(t, 1), digesttest.Key(t, 2)
	keyed := func(sources ...Source) map[string]string {
		record := map[string]string{}
		for _, s := range sources {
			record[s.Secret] = Digest(key, s)
		}
		return record
	}
	rotatedDB := source("db", withHash("new"), changedAgo(10*time.Second))
	tests := map[string]struct {
		recorded      map[string]string
		recordedHash  string
		recordedKeyID string
		sources       []Source
		wantAction    Action
		wantReason    string
	}{
		"unkeyed record, unchanged: recorded keyed, no restart": {
			recorded: recordOf(source("db"), source("api")), sources: []Source{source("db"), source("api")},
			wantAction: ActionAdopt, wantReason: ReasonRecorded,
		},
		"unkeyed record, a source rotated: restarted, recorded keyed": {
			recorded: recordOf(source("db"), source("api")), sources: []Source{rotatedDB, source("api")},
			wantAction: ActionRestart, wantReason: ReasonSourcesRotated,
		},
		"keyed record, unchanged: nothing": {
			recorded: keyed(source("db"), source("api")), recordedKeyID: key.ID(), sources: []Source{source("db"), source("api")},
			wantAction: ActionNone, wantReason: ReasonUpToDate,
		},
		"keyed record, a source rotated: restarted": {
			recorded: keyed(source("db"), source("api")), recordedKeyID: key.ID(), sources: []Source{rotatedDB, source("api")},
			wantAction: ActionRestart, wantReason: ReasonSourcesRotated,
		},
		"record under a replaced key, a source rotated: re-adopted, not restarted": {
			recorded: keyed(source("db"), source("api")), recordedKeyID: replaced.ID(), sources: []Source{rotatedDB, source("api")},
			wantAction: ActionAdopt, wantReason: ReasonReadopted,
		},
		"combined hash only on the pod template, keyed, unchanged: recorded, no restart": {
			recordedHash: SourceHash(key, []Source{source("db")}), sources: []Source{source("db")},
			wantAction: ActionAdopt, wantReason: ReasonRecorded,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := Gate(Input{Now: gateNow, Key: key, RecordedHash: tt.recordedHash, Recorded: tt.recorded, RecordedKeyID: tt.recordedKeyID,
				Sources: tt.sources, Settle: 2 * time.Second, MaxWait: 10 * time.Minute})
			if got.Action != tt.wantAction || got.Reason != tt.wantReason {
				t.Fatalf("Gate() = action %d reason %s (%s), want action %d reason %s", got.Action, got.Reason, got.Message, tt.wantAction, tt.wantReason)
			}
			if got.Action == ActionAdopt || got.Action == ActionRestart {
				if want := keyed(tt.sources...); !maps.Equal(got.Digests, want) {
					t.Errorf("Digests = %v, want the keyed %v", got.Digests, want)
				}
				if want := SourceHash(key, tt.sources); got.Hash != want {
					t.Errorf("Hash = %s, want the keyed %s", got.Hash, want)
				}
			}
		})
	}
}

// A workload seen for the first time whose pods are older than a write
// eso-bridge did not see is restarted once, when that source is synced;
// otherwise it is adopted.
func TestFirstSightRestartsPodsOlderThanAnUnseenWrite(t *testing.T) {
	older := func(s *Source) { s.PodsOlder = true }
	tests := map[string]struct {
		sources    []Source
		wantAction Action
		wantReason string
	}{
		"pods newer than every write: adopted": {
			sources: []Source{source("db"), source("api")}, wantAction: ActionAdopt, wantReason: ReasonAdopted,
		},
		"pods older than one write, synced: restarted": {
			sources: []Source{source("db", older), source("api")}, wantAction: ActionRestart, wantReason: ReasonSourcesRotated,
		},
		"pods older than a write ESO has not confirmed: not restarted before it is": {
			sources: []Source{source("db", older, statusStale, changedAgo(10*time.Second)), source("api")}, wantAction: ActionWait, wantReason: ReasonWaitingForESO,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := Gate(Input{Now: gateNow, Sources: tt.sources, Settle: 2 * time.Second, MaxWait: 10 * time.Minute})
			if got.Action != tt.wantAction || got.Reason != tt.wantReason {
				t.Fatalf("Gate() = action %d reason %s (%s), want action %d reason %s", got.Action, got.Reason, got.Message, tt.wantAction, tt.wantReason)
			}
			if want := recordOf(tt.sources...); (got.Action == ActionAdopt || got.Action == ActionRestart) && !maps.Equal(got.Digests, want) {
				t.Errorf("Digests = %v, want %v", got.Digests, want)
			}
		})
	}
}

// A restart names the ExternalSecrets it is for — those that rotated, and
// those rotating with them — so that their waves can be asked; an
// unchanged, settled source is not among them.
func TestARestartNamesTheSourcesItIsFor(t *testing.T) {
	recorded := recordOf(source("db"), source("api"), source("cache"))
	// db and api rotated together; cache did not.
	got := Gate(Input{Now: gateNow, Key: digest.Unkeyed, Recorded: recorded, Settle: 2 * time.Second, MaxWait: 10 * time.Minute,
		Sources: []Source{source("db", withHash("new"), changedAgo(10*time.Second)), source("api", withHash("new"), changedAgo(10*time.Second)), source("cache")}})
	if got.Action != ActionRestart || !slices.Equal(got.Rotated, []string{"db", "api"}) {
		t.Errorf("Gate() = action %d, rotated %v; want a restart for db and api", got.Action, got.Rotated)
	}
}
