package window

import (
	"strings"
	"testing"
	"time"
)

func at(t *testing.T, zone, value string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	when, err := time.ParseInLocation("2006-01-02 15:04:05", value, loc)
	if err != nil {
		t.Fatal(err)
	}
	return when
}

func TestParseRefusesWhatNeverOpensOrDoesNotRead(t *testing.T) {
	for spec, want := range map[string]string{
		"Mon-Fri 09:00-09:00 Europe/Paris":     "never opens",
		"Mon-Fri 9:00-17:00":                   "not a time of day",
		"Mon-Fri 09:00-25:00":                  "not a time of day",
		"Mon-Fri 24:00-02:00":                  "not a time of day",
		"Mon-Fri 09:00-24:30":                  "not a time of day",
		"Weekdays 09:00-17:00":                 "not a day",
		"Mon-Fri 09:00":                        "not START-END",
		"Mon-Fri":                              "want",
		"Mon-Fri 09:00-17:00 Mars/Olympus":     "not an IANA time zone",
		"Mon-Fri 09:00-17:00 Local":            "not an IANA time zone",
		"Mon-Fri 09:00-17:00 UTC extra":        "want",
		"Mon 09:00-10:00; Tue 10:00-10:00 UTC": "never opens",
	} {
		if _, err := Parse(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want an error saying %q", spec, err, want)
		}
	}
	for _, spec := range []string{"", "  ", "* 00:00-24:00", "Mon-Fri 09:00-17:00 Europe/Paris", "sat,SUN 22:00-02:00", "Fri-Mon 10:00:30-10:00:45 America/New_York; Wed 12:00-13:00"} {
		if _, err := Parse(spec); err != nil {
			t.Errorf("Parse(%q): %v", spec, err)
		}
	}
}

func TestOpenAtAndNextOpen(t *testing.T) {
	paris := "Europe/Paris"
	for _, c := range []struct {
		spec, now string
		open      bool
		next      string // in Paris time
	}{
		{"Mon-Fri 09:00-17:00 Europe/Paris", "2026-12-02 10:00:00", true, "2026-12-02 10:00:00"},      // a Wednesday
		{"Mon-Fri 09:00-17:00 Europe/Paris", "2026-12-02 17:00:00", false, "2026-12-03 09:00:00"},     // the end is not in the window
		{"Mon-Fri 09:00-17:00 Europe/Paris", "2026-12-04 18:00:00", false, "2026-12-07 09:00:00"},     // Friday evening → Monday
		{"Mon-Fri 09:00-17:00 Europe/Paris", "2026-12-02 08:59:59", false, "2026-12-02 09:00:00"},     // a second early
		{"Mon-Fri 09:00-17:00 UTC", "2026-12-02 09:30:00", false, "2026-12-02 10:00:00"},              // Paris is UTC+1 in winter
		{"Sat 22:00-02:00 Europe/Paris", "2026-12-06 01:00:00", true, "2026-12-06 01:00:00"},          // Sunday morning, Saturday's window
		{"Sat 22:00-02:00 Europe/Paris", "2026-12-06 02:00:00", false, "2026-12-12 22:00:00"},         // a week later
		{"Sun 02:00-04:00 Europe/Paris", "2027-03-27 12:00:00", false, "2027-03-28 03:00:00"},         // 02:00 does not exist that night
		{"Wed 09:00-10:00; Thu 11:00-12:00 UTC", "2026-12-02 11:00:00", false, "2026-12-03 12:00:00"}, // the earliest of two
	} {
		s, err := Parse(c.spec)
		if err != nil {
			t.Fatal(err)
		}
		now := at(t, paris, c.now)
		if got := s.OpenAt(now); got != c.open {
			t.Errorf("%q at %s: open %v, want %v", c.spec, c.now, got, c.open)
		}
		next, ok := NextOpen(now, s)
		if want := at(t, paris, c.next); !ok || !next.Equal(want) {
			t.Errorf("%q from %s: next open %s (%v), want %s", c.spec, c.now, next.In(want.Location()), ok, want)
		}
	}
}

func TestNextOpenOfSeveralIsWhenAllAreOpen(t *testing.T) {
	weekdays, _ := Parse("Mon-Fri 09:00-17:00 Europe/Paris")
	afternoons, _ := Parse("* 15:00-20:00 Europe/Paris")
	now := at(t, "Europe/Paris", "2026-12-04 16:30:00") // Friday
	if next, ok := NextOpen(now, weekdays, afternoons); !ok || !next.Equal(now) {
		t.Errorf("both open now: got %s %v", next, ok)
	}
	now = at(t, "Europe/Paris", "2026-12-04 17:30:00")
	if next, ok := NextOpen(now, weekdays, afternoons); !ok || !next.Equal(at(t, "Europe/Paris", "2026-12-07 15:00:00")) {
		t.Errorf("next together: got %s %v, want Monday 15:00", next, ok)
	}
	mornings, _ := Parse("* 06:00-08:00 Europe/Paris")
	if next, ok := NextOpen(now, weekdays, mornings); ok {
		t.Errorf("never together, yet NextOpen = %s", next)
	}
	if next, ok := NextOpen(now, Always, Always); !ok || !next.Equal(now) {
		t.Errorf("always: got %s %v", next, ok)
	}
}
