package annotations

import (
	"strconv"
	"strings"
	"testing"
)

func TestParseWaveAnnotations(t *testing.T) {
	tests := map[string]struct {
		parse   func(string) (string, error)
		value   string
		want    string
		wantErr string
	}{
		"absent waves are off": {parse: waveMode, value: "", want: "off"},
		"ordered, in any case": {parse: waveMode, value: " Ordered ", want: "ordered"},
		"canary":               {parse: waveMode, value: "canary", want: "canary"},
		"an unknown mode is refused, naming the ones there are": {parse: waveMode, value: "sideways", wantErr: `"sideways" is not one of "off", "ordered" or "canary"`},
		"a wave number":                              {parse: wave, value: " 2 ", want: "2"},
		"no wave number is unnumbered":               {parse: wave, value: "", want: "none"},
		"a negative wave is refused":                 {parse: wave, value: "-1", wantErr: "from 0 to 1000"},
		"a wave past the largest is refused":         {parse: wave, value: "1001", wantErr: "from 0 to 1000"},
		"a word is no wave":                          {parse: wave, value: "first", wantErr: "not a whole number"},
		"a trace ID resumes":                         {parse: ParseResume, value: "4bf92f3577b34da6a3ce929d0e0e4736", want: "4bf92f3577b34da6a3ce929d0e0e4736"},
		"a resume that is not a trace ID is refused": {parse: ParseResume, value: "true", wantErr: "is not a trace ID"},
		"an upper-case trace ID is refused":          {parse: ParseResume, value: "4BF92F3577B34DA6A3CE929D0E0E4736", wantErr: "is not a trace ID"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := tt.parse(tt.value)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parse(%q) = %q, %v; want %q", tt.value, got, err, tt.want)
			}
		})
	}
}

func waveMode(value string) (string, error) {
	mode, err := ParseWaveMode(value)
	return string(mode), err
}

func wave(value string) (string, error) {
	n, numbered, err := ParseWave(value)
	if !numbered {
		return "none", err
	}
	return strconv.Itoa(n), err
}
