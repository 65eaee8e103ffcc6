// Package digesttest gives tests keys for package digest.
package digesttest

import (
	"bytes"
	"testing"

	"github.com/eso-bridge/eso-bridge/bridge/digest"
)

// Key returns a key whose bytes are all fill: tests that need two keys give
// two fills.
func Key(t testing.TB, fill byte) digest.Key {
	t.Helper()
	k, err := digest.New(bytes.Repeat([]byte{fill}, digest.MinKeyLength))
	if err != nil {
		t.Fatal(err)
	}
	return k
}
