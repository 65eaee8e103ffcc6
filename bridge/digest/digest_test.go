package digest

import (
	"bytes"
	"crypto/sha256"
	"strings"
	"testing"
)

func mustKey(t *testing.T, fill byte) Key {
	t.Helper()
	k, err := New(bytes.Repeat([]byte{fill}, MinKeyLength))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Without the key, a digest cannot be recomputed from a guessed value: it
// differs from the plain SHA-256 anyone could compute, and from the same
// data's digest under another key.
func TestAKeyedDigestCannotBeRecomputedWithoutTheKey(t *testing.T) {
	data := []byte("db=ESO-data-hash-of-a-guess")
	a, b := mustKey(t, 1), mustKey(t, 2)
	plain := sha256.Sum256(data)
	if bytes.Equal(a.Sum(data), plain[:]) {
		t.Error("a keyed digest equals the plain SHA-256 of the data")
	}
	if bytes.Equal(a.Sum(data), b.Sum(data)) {
		t.Error("two keys give the same digest")
	}
	if !bytes.Equal(a.Sum(data), mustKey(t, 1).Sum(data)) {
		t.Error("the same key gives two digests of the same data")
	}
	if !bytes.Equal(Unkeyed.Sum(data), plain[:]) {
		t.Error("Unkeyed is not the plain SHA-256 eso-bridge wrote before keys")
	}
}

func TestKeyIDNamesTheKeyWithoutRevealingIt(t *testing.T) {
	a := mustKey(t, 'a')
	if a.ID() == "" || a.ID() == mustKey(t, 'b').ID() || a.ID() != mustKey(t, 'a').ID() {
		t.Errorf("IDs do not tell keys apart: %q", a.ID())
	}
	if strings.Contains(a.ID(), "6161") {
		t.Errorf("the ID %q shows the key's bytes", a.ID())
	}
	if Unkeyed.ID() != "" {
		t.Errorf("Unkeyed has ID %q, want none", Unkeyed.ID())
	}
}

func TestAShortKeyIsRefused(t *testing.T) {
	if _, err := New([]byte("short")); err == nil || !strings.Contains(err.Error(), "at least 32 bytes") {
		t.Errorf("New(short) = %v, want an error naming the minimum", err)
	}
}
