package gate

import (
	"strings"
	"testing"
	"time"
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

func TestGate(t *testing.T) {
	before := SourceHash([]Source{source("db"), source("api")})
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
		"unchanged sources cause no restart": {
			recorded: before, sources: []Source{source("db"), source("api")},
			wantAction: ActionNone, wantReason: ReasonUpToDate,
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
				if want := SourceHash(tt.sources); got.Hash != want {
					t.Errorf("Hash = %s, want %s", got.Hash, want)
				}
			}
		})
	}
}

func TestSourceHashIgnoresOrderAndNamesEverySource(t *testing.T) {
	ab := SourceHash([]Source{source("a"), source("b")})
	if ba := SourceHash([]Source{source("b"), source("a")}); ab != ba {
		t.Errorf("hash depends on order: %s vs %s", ab, ba)
	}
	if changed := SourceHash([]Source{source("a"), source("b", withHash("other"))}); changed == ab {
		t.Error("a changed data-hash left the source hash unchanged")
	}
	if renamed := SourceHash([]Source{source("a"), source("c", withHash("hash-b"))}); renamed == ab {
		t.Error("a different Secret with the same data-hash left the source hash unchanged")
	}
}
