package providers

import (
	"context"
	"strconv"
	"strings"
	"time"
	"unique"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
)

// Ref names one remote secret — the store that reaches it and its key there —
// or, with NameRegexp or Tags set and Key empty, every secret of the store
// that matches: a pattern, as an ExternalSecret's dataFrom.find reads.
type Ref struct {
	// Store identifies the vault and how to reach it (for AWS: region and role).
	Store string
	// Key is the secret's name or ARN in that vault.
	Key string
	// Label is the staging label read, when it is not the vault's current
	// version (a blue/green label): its moves are the rotations.
	Label string
	// NameRegexp, Path (a name prefix) and Tags ("k=v,k2=v2", sorted) select
	// the secrets of a pattern.
	NameRegexp string
	Path       string
	Tags       string
}

// IsPattern reports whether r selects secrets rather than naming one.
func (r Ref) IsPattern() bool { return r.Key == "" }

// Name is r's key, with "#label" for a label other than the current
// version ('#' is in no secret's name).
func (r Ref) Name() string {
	if r.Label == "" {
		return r.Key
	}
	return r.Key + "#" + r.Label
}

// Describe names r for people: its key, or what its pattern selects.
func (r Ref) Describe() string {
	if !r.IsPattern() {
		return r.Name()
	}
	var parts []string
	for _, p := range [][2]string{{"path", r.Path}, {"name", r.NameRegexp}, {"tags", r.Tags}} {
		if p[1] != "" {
			parts = append(parts, p[0]+" "+strconv.Quote(p[1]))
		}
	}
	if len(parts) == 0 {
		return "every secret of the store (dataFrom.find)"
	}
	return "the secrets found by " + strings.Join(parts, ", ")
}

// Handle is a Ref's one canonical copy (package unique): 8 bytes where a
// Ref is 96, for the maps that hold an entry per followed secret — the
// trigger's and a source's, each at a fleet's size. Equal Refs have equal
// Handles; Value gives the Ref back.
type Handle struct{ h unique.Handle[canonicalRef] }

// canonicalRef is a Ref as its Handle keeps it. The store is a handle of
// its own: unique.Make copies every string of the value it keeps, and a
// store's identity (its region, role and how it authenticates, often 100
// bytes) is the same for thousands of refs.
type canonicalRef struct {
	store                              unique.Handle[string]
	key, label, nameRegexp, path, tags string
}

// Handle returns r's canonical copy; its strings are copied, so that it
// does not keep alive the buffer they were cut from.
func (r Ref) Handle() Handle {
	return Handle{unique.Make(canonicalRef{store: unique.Make(r.Store), key: r.Key, label: r.Label,
		nameRegexp: r.NameRegexp, path: r.Path, tags: r.Tags})}
}

// Value is the Ref h is the handle of.
func (h Handle) Value() Ref {
	c := h.h.Value()
	return Ref{Store: c.store.Value(), Key: c.key, Label: c.label, NameRegexp: c.nameRegexp, Path: c.path, Tags: c.tags}
}

// Version is the current version of a remote secret, as the vault reports it.
type Version struct {
	ID string
	// Labels are the version's staging labels (AWSCURRENT, ...).
	Labels []string
	// ChangedAt is the vault's own time of the last change.
	ChangedAt time.Time
	// ARN is the secret's full identifier in the vault, when it reports one.
	ARN string
}

// Change reports the current version of Ref: a move, or (First) the version
// found the first time the source looked.
type Change struct {
	Ref     Ref
	Version Version
	// First is true for the first sighting of Ref, which is not a rotation.
	First bool
	// Failed is set, with no Version, when Ref started failing to be looked
	// at: its readers are told (see Source.Problem).
	Failed error
}

// Source follows the current versions of a set of remote secrets.
type Source interface {
	// Follow adds refs to the set followed and drops others, at a cost
	// proportional to the change: it is called for every ExternalSecret
	// reconciled, and a cluster holds thousands.
	Follow(added, dropped []Ref)
	// Current returns the last known current version of ref.
	Current(ref Ref) (Version, bool)
	// Matching returns the secrets a pattern matched in the last look.
	Matching(pattern Ref) []Ref
	// Run follows the refs until ctx ends, sending each first sighting and
	// every move of a current version to changes.
	Run(ctx context.Context, changes chan<- Change) error
	// Synced reports whether the source has looked at every ref it was last
	// asked to watch (a look that failed counts: the vault was asked).
	Synced() bool
	// Problem is why ref cannot be looked at (access denied, a malformed
	// key), nil while it can, or while it merely does not exist: its
	// rotations are then not sped up.
	Problem(ref Ref) error
}

// Vault is what the controller needs from one kind of vault: which remote
// secrets an ExternalSecret reads through its store, and word when their
// current versions move. The composition root (cmd/eso-bridge) builds the
// vaults; the controller knows none of them by name.
type Vault interface {
	Source
	// Refs returns the remote secrets es reads through a store with spec, at
	// their current version, as ESO itself would read them; nil when the
	// store is not this vault's, and for remote references pinned to one
	// version (they never rotate).
	Refs(es *esv1.ExternalSecret, store *esv1.SecretStoreSpec) []Ref
}
