// Package waves decides whether a workload may restart now for a rotation
// whose ExternalSecret restarts its consumers in waves: a pure function of
// what each consumer records on itself, so that a controller restarted
// between two waves, or a new leader, goes on where the last one stopped —
// no wave run twice, none skipped. It imports no client.
package waves

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/eso-bridge/eso-bridge/bridge/annotations"
)

// Reasons of the Events and metrics of waves.
const (
	// ReasonHalted: an earlier wave's rollout stalled, so this one is held.
	ReasonHalted = "WaveHalted"
	// ReasonWaiting: an earlier wave has not finished rolling out.
	ReasonWaiting = "WaitingForWave"
)

// Member is one consumer of the rotated ExternalSecret, as the cluster
// records it.
type Member struct {
	// Key names the workload as "kind/name" (lower-case kind).
	Key string
	// Wave is the workload's wave annotation; Numbered is false when it has
	// none (or one that does not parse).
	Wave     int
	Numbered bool
	// Current is true once the workload has recorded the rotated Secret's
	// current data: restarted for it, or adopted with it.
	Current bool
	// Rolling is true while the restart that made it current has not
	// finished rolling out.
	Rolling bool
	// Stalled is true when the rollout of the restart that made it current
	// stalled; Message is the rollout's own word on why.
	Stalled bool
	Message string
}

// Order splits members into the waves of mode, the first wave first. Off
// is one wave. Ordered groups members by wave number, lowest first, and
// puts the unnumbered last. Canary takes the lowest-numbered member (else
// the first by kind and name) alone, then the rest.
func Order(mode annotations.WaveMode, members []Member) [][]Member {
	if len(members) == 0 {
		return nil
	}
	sorted := slices.Clone(members)
	slices.SortFunc(sorted, func(a, b Member) int {
		if a.Numbered != b.Numbered {
			if a.Numbered {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(a.Wave, b.Wave), strings.Compare(a.Key, b.Key))
	})
	switch mode {
	case annotations.WavesCanary:
		if len(sorted) == 1 {
			return [][]Member{sorted}
		}
		return [][]Member{sorted[:1], sorted[1:]}
	case annotations.WavesOrdered:
		var waves [][]Member
		for i, m := range sorted {
			if i > 0 && sameWave(m, sorted[i-1]) {
				waves[len(waves)-1] = append(waves[len(waves)-1], m)
				continue
			}
			waves = append(waves, []Member{m})
		}
		return waves
	}
	return [][]Member{sorted}
}

func sameWave(a, b Member) bool {
	return a.Numbered == b.Numbered && (!a.Numbered || a.Wave == b.Wave)
}

// Verdict is whether one member may restart now, and if not, why.
type Verdict struct {
	// Go is true when the member may restart now: it is in the first wave,
	// or every member of the waves before it has rolled out the rotation.
	Go bool
	// Halted is true when a rollout of an earlier wave stalled: the member
	// is held until a new rotation or a resume.
	Halted bool
	// Wave is the member's wave, from 1, of Waves.
	Wave, Waves int
	// Blocking are the earlier members that keep it back: the stalled ones
	// when halted, else those not yet restarted or still rolling out.
	Blocking []Member
	// Message says so in a sentence.
	Message string
}

// Check decides whether the member self (a key) may restart now. resumed
// is true when the rotation's hold was released by hand: a stalled rollout
// then counts as finished. A self that is not among members goes at once.
func Check(mode annotations.WaveMode, self string, members []Member, resumed bool) Verdict {
	waves := Order(mode, members)
	index := slices.IndexFunc(waves, func(wave []Member) bool {
		return slices.ContainsFunc(wave, func(m Member) bool { return m.Key == self })
	})
	if index <= 0 {
		return Verdict{Go: true, Wave: 1, Waves: max(len(waves), 1), Message: "first wave"}
	}
	v := Verdict{Wave: index + 1, Waves: len(waves)}
	var stalled, pending []Member
	for _, wave := range waves[:index] {
		for _, m := range wave {
			switch {
			case m.Current && m.Stalled && !resumed:
				stalled = append(stalled, m)
			case !m.Current || m.Rolling:
				pending = append(pending, m)
			}
		}
	}
	switch {
	case len(stalled) > 0:
		v.Halted, v.Blocking = true, stalled
		v.Message = fmt.Sprintf("wave %d of %d held: the rollout of %s stalled", v.Wave, v.Waves, describe(stalled, true))
	case len(pending) > 0:
		v.Blocking = pending
		v.Message = fmt.Sprintf("wave %d of %d waits for %s", v.Wave, v.Waves, describe(pending, false))
	default:
		v.Go = true
		v.Message = fmt.Sprintf("wave %d of %d: every earlier wave rolled out", v.Wave, v.Waves)
	}
	return v
}

// describe names members and where each stands.
func describe(members []Member, withMessage bool) string {
	parts := make([]string, 0, len(members))
	for _, m := range members {
		switch {
		case withMessage && m.Message != "":
			parts = append(parts, fmt.Sprintf("%s (%s)", m.Key, m.Message))
		case !m.Current:
			parts = append(parts, m.Key+" to restart")
		case m.Rolling:
			parts = append(parts, m.Key+" to finish rolling out")
		default:
			parts = append(parts, m.Key)
		}
	}
	return strings.Join(parts, ", ")
}
