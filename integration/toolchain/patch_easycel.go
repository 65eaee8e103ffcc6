package toolchain

// easycelCacheRace mends a data race in github.com/wzshiming/easycel v0.6.0,
// which kwok v0.8.0 uses to evaluate its stages' CEL expressions: easycel keeps
// four package-level maps (a reflect type's CEL type and traits, a struct's
// fields by tag) and fills them without a lock. kwok builds one CEL environment
// per stage, lazily, on the first node or pod event, from its node, pod and
// stage controllers' goroutines at once, so two of them can fill the maps
// together and the Go runtime stops kwok with "fatal error: concurrent map
// writes". It did so in CI, at the control plane's start; a program that
// builds four environments at once died so in 8 of 300 runs.
// The patch puts every read and write of those maps under one mutex; what the
// maps compute is unchanged. Neither kwok (v0.8.0) nor easycel (v0.6.0) has a
// newer release on the module proxy.
var easycelCacheRace = sourcePatch{
	module: "github.com/wzshiming/easycel",
	why:    "unsynchronized package-level caches (fatal error: concurrent map writes in kwok)",
	edits: map[string][]edit{
		"types.go": {
			{"typ, ok := typeValueMap[rawType]", "typ, ok := lockedLoad(typeValueMap, rawType)"},
			{"typeValueMap[rawType] = typ", "lockedStore(typeValueMap, rawType, typ)"},
			{"trait, ok := typeTraitMap[typ]", "trait, ok := lockedLoad(typeTraitMap, typ)"},
			{"typeTraitMap[typ] = trait", "lockedStore(typeTraitMap, typ, trait)"},
		},
		"native_struct.go": {
			{
				"if filedMap, ok := structFieldMap[tagName]; ok {\n\t\tif entries, ok := filedMap[typ]; ok {",
				"{\n\t\tif entries, ok := lockedLoad2(structFieldMap, tagName, typ); ok {",
			},
			{
				"\tif _, ok := structFieldMap[tagName]; !ok {\n\t\tstructFieldMap[tagName] = map[reflect.Type]map[string]int{}\n\t}\n\n\tstructFieldMap[tagName][typ] = entries\n",
				"\tlockedStore2(structFieldMap, tagName, typ, entries)\n",
			},
			{
				"if fields, ok := structFields[tagName]; ok {\n\t\tif entries, ok := fields[typ]; ok {",
				"{\n\t\tif entries, ok := lockedLoad2(structFields, tagName, typ); ok {",
			},
			{
				"\tif _, ok := structFields[tagName]; !ok {\n\t\tstructFields[tagName] = map[reflect.Type][]string{}\n\t}\n\n\tstructFields[tagName][typ] = entries\n",
				"\tlockedStore2(structFields, tagName, typ, entries)\n",
			},
		},
	},
	added: map[string]string{"eso_bridge_cache_lock.go": easycelCacheLock},
}

// easycelCacheLock is the file the patch adds to package easycel. The lock is
// held only for one map access, never while a value is computed, because
// computing a type's CEL type reads the same maps for its element types.
const easycelCacheLock = `package easycel

import "sync"

// cacheLock guards the package-level caches (added by eso-bridge's toolchain:
// they were filled from several goroutines without one).
var cacheLock sync.Mutex

func lockedLoad[K comparable, V any](m map[K]V, k K) (V, bool) {
	cacheLock.Lock()
	defer cacheLock.Unlock()
	v, ok := m[k]
	return v, ok
}

func lockedStore[K comparable, V any](m map[K]V, k K, v V) {
	cacheLock.Lock()
	defer cacheLock.Unlock()
	m[k] = v
}

func lockedLoad2[K1, K2 comparable, V any](m map[K1]map[K2]V, k1 K1, k2 K2) (V, bool) {
	cacheLock.Lock()
	defer cacheLock.Unlock()
	v, ok := m[k1][k2]
	return v, ok
}

func lockedStore2[K1, K2 comparable, V any](m map[K1]map[K2]V, k1 K1, k2 K2, v V) {
	cacheLock.Lock()
	defer cacheLock.Unlock()
	if m[k1] == nil {
		m[k1] = map[K2]V{}
	}
	m[k1][k2] = v
}
`
