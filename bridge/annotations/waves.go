package annotations

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// Annotations of a rotation's waves.
const (
	// AnnotationWaves on an ExternalSecret: how the workloads it restarts
	// go when it rotates. "off" (all at once), "ordered" (by each
	// workload's AnnotationWave, lowest first; workloads without one last)
	// or "canary" (one workload first — the lowest AnnotationWave, else
	// the first by kind and name — then the rest). A wave starts once
	// every workload of the one before has completed its rollout; a
	// rollout that stalls holds the waves after it. Absent: the --waves
	// flag decides.
	AnnotationWaves = "eso-bridge.io/waves"
	// AnnotationWave on a workload: its wave number, a whole number from 0
	// to 1000, for ExternalSecrets whose waves are ordered (or canary).
	AnnotationWave = "eso-bridge.io/wave"
	// AnnotationResume on an ExternalSecret: the trace ID of a rotation
	// whose waves are held by a stalled rollout. The held waves go on as if
	// that rollout had completed. A new rotation releases a hold too, by
	// restarting the stalled workload first.
	AnnotationResume = "eso-bridge.io/resume"
)

// WaveMode is how an ExternalSecret's rotation restarts its workloads.
type WaveMode string

// The wave modes of AnnotationWaves.
const (
	WavesOff     WaveMode = "off"
	WavesOrdered WaveMode = "ordered"
	WavesCanary  WaveMode = "canary"
)

// MaxWave is the largest wave number AnnotationWave accepts.
const MaxWave = 1000

// ParseWaveMode parses AnnotationWaves (or the --waves flag); "" is off.
func ParseWaveMode(value string) (WaveMode, error) {
	switch mode := WaveMode(strings.ToLower(strings.TrimSpace(value))); mode {
	case "":
		return WavesOff, nil
	case WavesOff, WavesOrdered, WavesCanary:
		return mode, nil
	}
	return WavesOff, fmt.Errorf("%s is not one of %q, %q or %q", Quote(value), WavesOff, WavesOrdered, WavesCanary)
}

// ParseWave parses AnnotationWave: the workload's wave number, and false
// when it has none.
func ParseWave(value string) (int, bool, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0, false, nil
	}
	wave, err := strconv.Atoi(value)
	if err != nil || wave < 0 || wave > MaxWave {
		return 0, false, fmt.Errorf("%s is not a whole number from 0 to %d", Quote(value), MaxWave)
	}
	return wave, true, nil
}

// ParseResume parses AnnotationResume: a trace ID, 32 lower-case hex digits,
// as `eso-bridge trace` and the WaveHalted Warnings print it.
func ParseResume(value string) (string, error) {
	value = strings.TrimSpace(value)
	if b, err := hex.DecodeString(value); err != nil || len(b) != 16 || value != strings.ToLower(value) {
		return "", fmt.Errorf("%s is not a trace ID (32 lower-case hex digits, as the WaveHalted Warning and eso-bridge trace print it)", Quote(value))
	}
	return value, nil
}
