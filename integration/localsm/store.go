package localsm

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"time"
)

// Staging labels with a meaning of their own in Secrets Manager.
const (
	labelCurrent  = "AWSCURRENT"
	labelPrevious = "AWSPREVIOUS"
)

// secret is one stored secret with its versions.
type secret struct {
	name        string
	arn         string
	description string
	tags        []tag
	created     time.Time
	lastChanged time.Time
	// deleted is when its deletion was scheduled; zero while it is not.
	deleted  time.Time
	versions map[string]*version
	// order keeps version IDs oldest first, for stable listings. A version's
	// ID is the ClientRequestToken that created it, when one was given.
	order []string
}

type version struct {
	id      string
	value   string
	binary  []byte
	labels  []string
	created time.Time
}

type tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// labelHolder returns the version holding label, if any.
func (s *secret) labelHolder(label string) *version {
	for _, id := range s.order {
		if slices.Contains(s.versions[id].labels, label) {
			return s.versions[id]
		}
	}
	return nil
}

// moveLabel attaches label to v and detaches it from any other version. Moving
// AWSCURRENT gives the old holder AWSPREVIOUS, as Secrets Manager does.
func (s *secret) moveLabel(label string, v *version, now time.Time) {
	old := s.labelHolder(label)
	if old == v {
		return
	}
	if old != nil {
		old.labels = slices.DeleteFunc(old.labels, func(l string) bool { return l == label })
	}
	v.labels = append(v.labels, label)
	if label == labelCurrent && old != nil {
		s.moveLabel(labelPrevious, old, now)
	}
	s.lastChanged = now
}

// addVersion stores a new version with the given labels.
func (s *secret) addVersion(id, value string, binary []byte, labels []string, now time.Time) *version {
	v := &version{id: id, value: value, binary: binary, created: now}
	s.versions[id] = v
	s.order = append(s.order, id)
	for _, label := range labels {
		s.moveLabel(label, v, now)
	}
	s.lastChanged = now
	return v
}

// versionIDsToStages is the VersionIdsToStages map of DescribeSecret; as in
// AWS, versions without a label are left out.
func (s *secret) versionIDsToStages() map[string][]string {
	out := map[string][]string{}
	for _, id := range s.order {
		if labels := s.versions[id].labels; len(labels) > 0 {
			out[id] = append([]string(nil), labels...)
		}
	}
	return out
}

// sortedNames returns the secrets' names in order, for paging.
func sortedNames(secrets map[string]*secret) []string {
	names := make([]string, 0, len(secrets))
	for name := range secrets {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// newVersionID returns a random UUID, the form AWS uses for version IDs.
func newVersionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return fmt.Sprintf("%s-%s-%s-%s-%s", h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])
}

// arnFor builds an ARN the way AWS does: the name and a random six-character suffix.
func arnFor(region, account, name string) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-%s", region, account, name, hex.EncodeToString(b[:]))
}
