package gate

import (
	"encoding/hex"
	"sort"
	"strings"

	"github.com/eso-bridge/eso-bridge/bridge/digest"
)

// SourceHash is a digest, under key, of the sorted (Secret name, ESO
// data-hash) pairs. The data-hash is itself a digest: no secret value goes
// in, and the key keeps a guess of one from being tested against the hash.
func SourceHash(key digest.Key, sources []Source) string {
	pairs := make([]string, 0, len(sources))
	for _, s := range sources {
		pairs = append(pairs, s.Secret+"="+s.DataHash)
	}
	sort.Strings(pairs)
	return hex.EncodeToString(key.Sum([]byte(strings.Join(pairs, "\n")))[:16])
}

// Digest is the record of one source's data: a digest, under key, of its
// Secret's name and ESO's data-hash.
func Digest(key digest.Key, s Source) string {
	return hex.EncodeToString(key.Sum([]byte(s.Secret + "=" + s.DataHash))[:8])
}
