package restart

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// WriteObserver remembers when eso-bridge saw each Secret's current data-hash
// appear. The API server records write times to the second only; a write seen
// live is known to the millisecond, which makes the settle window and the
// write-to-patch latency exact; the Secret's resourceVersion at that write
// is what ESO's status must come after to confirm it. After a controller
// restart the API server's record is used instead.
type WriteObserver struct {
	mu   sync.Mutex
	seen map[types.NamespacedName]observedWrite
}

type observedWrite struct {
	dataHash        string
	resourceVersion string
	at              time.Time
}

// NewWriteObserver returns an observer that has seen nothing yet.
func NewWriteObserver() *WriteObserver {
	return &WriteObserver{seen: map[types.NamespacedName]observedWrite{}}
}

// Observe records that secret carries dataHash as of at, in the write that
// made resourceVersion, unless that hash was already seen (the first
// sighting is the write that brought it).
func (o *WriteObserver) Observe(secret types.NamespacedName, dataHash, resourceVersion string, at time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if prev, ok := o.seen[secret]; ok && prev.dataHash == dataHash {
		return
	}
	o.seen[secret] = observedWrite{dataHash: dataHash, resourceVersion: resourceVersion, at: at}
}

// Forget drops a deleted Secret.
func (o *WriteObserver) Forget(secret types.NamespacedName) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.seen, secret)
}

// WriteResourceVersion returns the resourceVersion of the write that brought
// secret's dataHash, if eso-bridge saw it. A nil observer saw nothing.
func (o *WriteObserver) WriteResourceVersion(secret types.NamespacedName, dataHash string) (string, bool) {
	if o == nil {
		return "", false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	w, ok := o.seen[secret]
	if !ok || w.dataHash != dataHash {
		return "", false
	}
	return w.resourceVersion, true
}

// SeenAt returns when secret was seen with dataHash, if it was. A nil
// observer saw nothing.
func (o *WriteObserver) SeenAt(secret types.NamespacedName, dataHash string) (time.Time, bool) {
	if o == nil {
		return time.Time{}, false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	w, ok := o.seen[secret]
	if !ok || w.dataHash != dataHash {
		return time.Time{}, false
	}
	return w.at, true
}
