package gate

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"
)

// SourceHash is a digest of the sorted (Secret name, ESO data-hash) pairs.
// The data-hash is itself a digest: no secret value goes in.
func SourceHash(sources []Source) string {
	pairs := make([]string, 0, len(sources))
	for _, s := range sources {
		pairs = append(pairs, s.Secret+"="+s.DataHash)
	}
	sort.Strings(pairs)
	sum := sha256.Sum256([]byte(strings.Join(pairs, "\n")))
	return hex.EncodeToString(sum[:16])
}

// Digest is the record of one source's data: a digest of its Secret's name
// and ESO's data-hash, itself a digest, so no secret value goes in.
func Digest(s Source) string {
	sum := sha256.Sum256([]byte(s.Secret + "=" + s.DataHash))
	return hex.EncodeToString(sum[:8])
}
