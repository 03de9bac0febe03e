// Package sessionstore is an in-memory, size-bounded implementation of
// baton-sdk's sessions.SessionStore: the sync-scoped cache that baton-sdk
// hands connectors in SyncOpAttrs.Session and that guests reach through the
// ABI's session functions.
//
// baton-sdk's own stores are a gRPC client for connectorrunner's child
// process (which baton-runner does not use: it runs connectors in-process)
// and an evicting cache that needs such a backing store.
package sessionstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/conductorone/baton-sdk/pkg/types/sessions"
)

// DefaultMaxBytes bounds a Store created with a zero limit.
const DefaultMaxBytes = 256 << 20

// EntryOverhead is what the store charges for each entry on top of its key
// and value bytes: the map slot (key string and value slice headers, at
// the map's varying load), and the size-class rounding of the key and value
// allocations. Measured on Go 1.26 (runtime.ReadMemStats after GC, before
// and after filling a store with 100k…1.5M entries of a 2–8 byte key and a
// 1-byte value; see TestHeapStaysWithinMaxBytes): 80–117 bytes per entry
// beyond its key and value. Charging only key and value let 1.5M tiny
// entries take 359 MiB of heap while the store counted 8.5 MiB.
const EntryOverhead = 160

// Store keeps values per sync ID and prefix, up to a total charged size
// (key + value + EntryOverhead per entry). When a write does not fit, the
// values of other syncs are dropped, least recently written first: a
// session is a cache, and a sync that failed before baton-sdk's cleanup
// must not hold the store for the syncs after it. It is safe for
// concurrent use.
type Store struct {
	mu       sync.Mutex
	maxBytes int
	size     int
	clock    uint64
	data     map[string]*syncValues
}

// syncValues are one sync's values (prefixed key → value).
type syncValues struct {
	values  map[string][]byte
	size    int
	written uint64 // Store.clock at the last write
}

var _ sessions.SessionStore = (*Store)(nil)

// New returns an empty Store charging at most maxBytes (DefaultMaxBytes if
// maxBytes ≤ 0).
func New(maxBytes int) *Store {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	return &Store{maxBytes: maxBytes, data: map[string]*syncValues{}}
}

func cost(key string, value []byte) int { return len(key) + len(value) + EntryOverhead }

func bag(ctx context.Context, opts []sessions.SessionStoreOption) (*sessions.SessionStoreBag, error) {
	b := &sessions.SessionStoreBag{}
	for _, o := range opts {
		if err := o(ctx, b); err != nil {
			return nil, err
		}
	}
	if b.SyncID == "" {
		return nil, fmt.Errorf("session store: no sync id given")
	}
	return b, nil
}

func (s *Store) Get(ctx context.Context, key string, opt ...sessions.SessionStoreOption) ([]byte, bool, error) {
	b, err := bag(ctx, opt)
	if err != nil {
		return nil, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sv := s.data[b.SyncID]
	if sv == nil {
		return nil, false, nil
	}
	v, ok := sv.values[b.Prefix+key]
	return v, ok, nil
}

func (s *Store) GetMany(ctx context.Context, keys []string, opt ...sessions.SessionStoreOption) (map[string][]byte, []string, error) {
	b, err := bag(ctx, opt)
	if err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]byte, len(keys))
	if sv := s.data[b.SyncID]; sv != nil {
		for _, k := range keys {
			if v, ok := sv.values[b.Prefix+k]; ok {
				out[k] = v
			}
		}
	}
	return out, nil, nil
}

func (s *Store) Set(ctx context.Context, key string, value []byte, opt ...sessions.SessionStoreOption) error {
	return s.SetMany(ctx, map[string][]byte{key: value}, opt...)
}

func (s *Store) SetMany(ctx context.Context, values map[string][]byte, opt ...sessions.SessionStoreOption) error {
	b, err := bag(ctx, opt)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sv := s.data[b.SyncID]
	delta := 0
	for k, v := range values {
		k = b.Prefix + k
		if sv != nil {
			if old, ok := sv.values[k]; ok {
				delta -= cost(k, old)
			}
		}
		delta += cost(k, v)
	}
	own := 0
	if sv != nil {
		own = sv.size
	}
	if s.size+delta > s.maxBytes && own+delta <= s.maxBytes {
		s.evictOthers(b.SyncID, s.size+delta-s.maxBytes)
	}
	if s.size+delta > s.maxBytes {
		return fmt.Errorf("session store full (%d of %d bytes used)", s.size, s.maxBytes)
	}
	if sv == nil {
		sv = &syncValues{values: map[string][]byte{}}
		s.data[b.SyncID] = sv
	}
	for k, v := range values {
		sv.values[b.Prefix+k] = append([]byte(nil), v...)
	}
	s.clock++
	sv.written = s.clock
	sv.size += delta
	s.size += delta
	return nil
}

// evictOthers drops whole syncs other than keep, least recently written
// first, until need bytes are free or only keep is left.
func (s *Store) evictOthers(keep string, need int) {
	ids := make([]string, 0, len(s.data))
	for id := range s.data {
		if id != keep {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b string) int { return cmp.Compare(s.data[a].written, s.data[b].written) })
	for _, id := range ids {
		if need <= 0 {
			return
		}
		need -= s.data[id].size
		s.size -= s.data[id].size
		delete(s.data, id)
	}
}

func (s *Store) Delete(ctx context.Context, key string, opt ...sessions.SessionStoreOption) error {
	b, err := bag(ctx, opt)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := b.Prefix + key
	if sv := s.data[b.SyncID]; sv != nil {
		if v, ok := sv.values[k]; ok {
			sv.size -= cost(k, v)
			s.size -= cost(k, v)
			delete(sv.values, k)
		}
	}
	return nil
}

// Clear drops every value of the sync under the prefix (baton-sdk calls it
// when a sync ends).
func (s *Store) Clear(ctx context.Context, opt ...sessions.SessionStoreOption) error {
	b, err := bag(ctx, opt)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sv := s.data[b.SyncID]
	if sv == nil {
		return nil
	}
	for k, v := range sv.values {
		if strings.HasPrefix(k, b.Prefix) {
			sv.size -= cost(k, v)
			s.size -= cost(k, v)
			delete(sv.values, k)
		}
	}
	if len(sv.values) == 0 {
		delete(s.data, b.SyncID)
	}
	return nil
}

// GetAll returns every value under the prefix, in one page.
func (s *Store) GetAll(ctx context.Context, _ string, opt ...sessions.SessionStoreOption) (map[string][]byte, string, error) {
	b, err := bag(ctx, opt)
	if err != nil {
		return nil, "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]byte{}
	if sv := s.data[b.SyncID]; sv != nil {
		for k, v := range sv.values {
			if strings.HasPrefix(k, b.Prefix) {
				out[strings.TrimPrefix(k, b.Prefix)] = v
			}
		}
	}
	return out, "", nil
}

// Size returns the bytes currently charged.
func (s *Store) Size() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size
}
