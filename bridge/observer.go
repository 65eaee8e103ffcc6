package bridge

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// writeObserver remembers when eso-bridge saw each Secret's current data-hash
// appear. The API server records write times to the second only; a write seen
// live is known to the millisecond, which makes the settle window and the
// write-to-patch latency exact. After a controller restart the API server's
// time is used instead.
type writeObserver struct {
	mu   sync.Mutex
	seen map[types.NamespacedName]observedWrite
}

type observedWrite struct {
	dataHash string
	at       time.Time
}

func newWriteObserver() *writeObserver {
	return &writeObserver{seen: map[types.NamespacedName]observedWrite{}}
}

// observe records that secret carries dataHash as of at, unless that hash was
// already seen (the first sighting is the closest to the write).
func (o *writeObserver) observe(secret types.NamespacedName, dataHash string, at time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if prev, ok := o.seen[secret]; ok && prev.dataHash == dataHash {
		return
	}
	o.seen[secret] = observedWrite{dataHash: dataHash, at: at}
}

// forget drops a deleted Secret.
func (o *writeObserver) forget(secret types.NamespacedName) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.seen, secret)
}

// seenAt returns when secret was seen with dataHash, if it was.
func (o *writeObserver) seenAt(secret types.NamespacedName, dataHash string) (time.Time, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	w, ok := o.seen[secret]
	if !ok || w.dataHash != dataHash {
		return time.Time{}, false
	}
	return w.at, true
}
