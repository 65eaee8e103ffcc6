// Package window parses restart windows — when in the week a workload may
// be restarted, in a time zone — and says whether one is open and when it
// next opens. It is pure: the restart controller, `explain` and `trace`
// ask it with their own clock, and it imports no client.
//
// A schedule is one or more windows separated by ";", each
//
//	DAYS START-END [ZONE]
//
// DAYS is a day (Mon), a range (Mon-Fri), a list (Sat,Sun, Mon-Wed,Fri) or
// "*" for every day; START and END are HH:MM or HH:MM:SS, END may be 24:00,
// and an END before START runs past midnight into the next day; ZONE is an
// IANA time zone (Europe/Paris), UTC when left out. For example
// "Mon-Fri 09:00-17:00 Europe/Paris; Sat 10:00-12:00 Europe/Paris".
package window

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Window is one recurring window: on each of its days, from Start to End
// (offsets from midnight) in Zone. End before Start runs past midnight.
type Window struct {
	Days       [7]bool // indexed by time.Weekday
	Start, End time.Duration
	Zone       *time.Location
}

// Schedule is a set of windows: open when any of them is.
type Schedule struct {
	Windows []Window
	// Spec is the text it was parsed from, trimmed.
	Spec string
}

// Always is the schedule of a workload without a window: always open.
var Always = Schedule{}

// IsAlways reports whether s puts no limit on restarts.
func (s Schedule) IsAlways() bool { return len(s.Windows) == 0 }

// String is the schedule as it was written, or "always".
func (s Schedule) String() string {
	if s.IsAlways() {
		return "always"
	}
	return s.Spec
}

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// Parse parses a schedule; "" is Always. A window that never opens — no
// day, or as long as nothing (START = END) — is an error, as is an unknown
// time zone.
func Parse(spec string) (Schedule, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return Always, nil
	}
	s := Schedule{Spec: spec}
	for _, part := range strings.Split(spec, ";") {
		w, err := parseWindow(strings.TrimSpace(part))
		if err != nil {
			return Always, fmt.Errorf("window %q: %w", strings.TrimSpace(part), err)
		}
		s.Windows = append(s.Windows, w)
	}
	return s, nil
}

func parseWindow(text string) (Window, error) {
	fields := strings.Fields(text)
	if len(fields) < 2 || len(fields) > 3 {
		return Window{}, errors.New(`want "DAYS START-END [ZONE]", e.g. "Mon-Fri 09:00-17:00 Europe/Paris"`)
	}
	w := Window{Zone: time.UTC}
	if err := w.parseDays(fields[0]); err != nil {
		return Window{}, err
	}
	from, to, ok := strings.Cut(fields[1], "-")
	if !ok {
		return Window{}, fmt.Errorf("%q is not START-END, e.g. 09:00-17:00", fields[1])
	}
	var err error
	if w.Start, err = parseClock(from, false); err != nil {
		return Window{}, err
	}
	if w.End, err = parseClock(to, true); err != nil {
		return Window{}, err
	}
	if w.Start == w.End {
		return Window{}, fmt.Errorf("%s is as long as nothing: the window never opens", fields[1])
	}
	if len(fields) == 3 {
		// Zone names are case-sensitive file names: "europe/paris" would
		// load on some systems and not others, so only the IANA spelling
		// is accepted.
		if w.Zone, err = time.LoadLocation(fields[2]); err != nil || fields[2] == "Local" {
			return Window{}, fmt.Errorf("%q is not an IANA time zone, e.g. Europe/Paris or UTC", fields[2])
		}
	}
	return w, nil
}

// parseDays reads "*", a day, a range or a comma-separated list of them.
func (w *Window) parseDays(text string) error {
	if text == "*" {
		w.Days = [7]bool{true, true, true, true, true, true, true}
		return nil
	}
	for _, item := range strings.Split(text, ",") {
		first, last, isRange := strings.Cut(item, "-")
		from, ok := dayNames[strings.ToLower(first)]
		if !ok {
			return fmt.Errorf("%q is not a day (Mon, Tue, … Sun, a range Mon-Fri, a list Sat,Sun, or * for every day)", item)
		}
		to := from
		if isRange {
			if to, ok = dayNames[strings.ToLower(last)]; !ok {
				return fmt.Errorf("%q is not a day (Mon, Tue, … Sun, a range Mon-Fri, a list Sat,Sun, or * for every day)", item)
			}
		}
		// A range wraps past Sunday: Fri-Mon is Fri, Sat, Sun, Mon.
		for d := from; ; d = (d + 1) % 7 {
			w.Days[d] = true
			if d == to {
				break
			}
		}
	}
	return nil
}

// parseClock reads HH:MM or HH:MM:SS; 24:00 only as an end.
func parseClock(text string, end bool) (time.Duration, error) {
	parts := strings.Split(text, ":")
	bad := fmt.Errorf("%q is not a time of day (HH:MM or HH:MM:SS)", text)
	if len(parts) < 2 || len(parts) > 3 {
		return 0, bad
	}
	var units [3]int
	limits := [3]int{24, 59, 59}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || len(p) != 2 || n < 0 || n > limits[i] {
			return 0, bad
		}
		units[i] = n
	}
	d := time.Duration(units[0])*time.Hour + time.Duration(units[1])*time.Minute + time.Duration(units[2])*time.Second
	if units[0] == 24 && (d != 24*time.Hour || !end) {
		return 0, bad
	}
	return d, nil
}

// OpenAt reports whether s is open at t.
func (s Schedule) OpenAt(t time.Time) bool {
	if s.IsAlways() {
		return true
	}
	return slices.ContainsFunc(s.Windows, func(w Window) bool { return w.openAt(t) })
}

func (w Window) openAt(t time.Time) bool {
	local := t.In(w.Zone)
	day := local.Weekday()
	since := sinceMidnight(local)
	if w.Start < w.End {
		return w.Days[day] && since >= w.Start && since < w.End
	}
	// Past midnight: the evening of one of its days, or the morning after.
	return (w.Days[day] && since >= w.Start) || (w.Days[(day+6)%7] && since < w.End)
}

// sinceMidnight is the wall-clock time of day of local, which a window's
// bounds are written in (not the time elapsed since midnight, which a
// change of daylight saving time shifts).
func sinceMidnight(local time.Time) time.Duration {
	h, m, sec := local.Clock()
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec)*time.Second
}

// starts are the moments in [after, after+8 days] when a window of s
// opens: a week and a day covers every day of every window.
func (s Schedule) starts(after time.Time) []time.Time {
	var at []time.Time
	for _, w := range s.Windows {
		local := after.In(w.Zone)
		for offset := -1; offset <= 8; offset++ {
			day := time.Date(local.Year(), local.Month(), local.Day()+offset, 0, 0, 0, 0, w.Zone)
			if !w.Days[day.Weekday()] {
				continue
			}
			h, m, sec := int(w.Start/time.Hour), int(w.Start%time.Hour/time.Minute), int(w.Start%time.Minute/time.Second)
			start := time.Date(day.Year(), day.Month(), day.Day(), h, m, sec, 0, w.Zone)
			if start.After(after) {
				at = append(at, start)
			}
		}
	}
	return at
}

// NextOpen returns the first moment from now when every schedule of all is
// open at once: now itself when they all are; ok is false when they never
// are together (each opens, but never at the same time as the others).
func NextOpen(now time.Time, all ...Schedule) (time.Time, bool) {
	openAll := func(t time.Time) bool {
		return !slices.ContainsFunc(all, func(s Schedule) bool { return !s.OpenAt(t) })
	}
	if openAll(now) {
		return now, true
	}
	var candidates []time.Time
	for _, s := range all {
		candidates = append(candidates, s.starts(now)...)
	}
	slices.SortFunc(candidates, func(a, b time.Time) int { return a.Compare(b) })
	for _, t := range candidates {
		if openAll(t) {
			return t, true
		}
	}
	return time.Time{}, false
}
