// Package digest keys the digests eso-bridge writes where readers of
// Secrets are not the only readers: the source hash and source digests on
// workloads, pod templates and pods, and the trace IDs derived from Secret
// writes. Each is a function of ESO's data-hash, itself an unsalted digest
// of the Secret's values, so an unkeyed digest would let anyone who can read
// a Deployment (the `view` role) or a trace backend test a guess of a
// low-entropy value. Keyed with HMAC-SHA256 under a key kept in a Secret,
// they tell nothing to someone who cannot read that Secret. It imports no
// client; the controller loads the key.
package digest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// MinKeyLength is the shortest key accepted, in bytes: a key must not be
// guessable either.
const MinKeyLength = 32

// idLabel is what a key's ID is the HMAC of.
const idLabel = "eso-bridge digest key id"

// Key keys digests. The zero Key is Unkeyed.
type Key struct {
	secret []byte
	id     string
}

// Unkeyed is the zero Key: plain SHA-256, as eso-bridge wrote its digests
// before they were keyed. It is only used to read those records back.
var Unkeyed = Key{}

// New returns the key with the secret bytes; an error if they are too short.
func New(secret []byte) (Key, error) {
	if len(secret) < MinKeyLength {
		return Key{}, fmt.Errorf("a digest key must have at least %d bytes, this one has %d", MinKeyLength, len(secret))
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(idLabel))
	return Key{secret: append([]byte(nil), secret...), id: hex.EncodeToString(mac.Sum(nil)[:8])}, nil
}

// ID names the key without revealing it: recorded beside the digests made
// with it, so that a replaced key is recognised (and its records re-adopted)
// rather than taken for changed data. "" for Unkeyed.
func (k Key) ID() string { return k.id }

// Sum is the digest of data: HMAC-SHA256 under the key, or SHA-256 for
// Unkeyed. It is 32 bytes long.
func (k Key) Sum(data []byte) []byte {
	if k.secret == nil {
		sum := sha256.Sum256(data)
		return sum[:]
	}
	mac := hmac.New(sha256.New, k.secret)
	mac.Write(data)
	return mac.Sum(nil)
}
