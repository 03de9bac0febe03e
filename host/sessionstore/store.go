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
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/conductorone/baton-sdk/pkg/types/sessions"
)

// DefaultMaxBytes bounds a Store created with a zero limit.
const DefaultMaxBytes = 256 << 20

// Store keeps values per sync ID and prefix, up to a total byte size. It is
// safe for concurrent use.
type Store struct {
	mu       sync.Mutex
	maxBytes int
	size     int
	data     map[string]map[string][]byte // sync ID → prefixed key → value
}

var _ sessions.SessionStore = (*Store)(nil)

// New returns an empty Store holding at most maxBytes of keys and values
// (DefaultMaxBytes if maxBytes ≤ 0).
func New(maxBytes int) *Store {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	return &Store{maxBytes: maxBytes, data: map[string]map[string][]byte{}}
}

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
	v, ok := s.data[b.SyncID][b.Prefix+key]
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
	for _, k := range keys {
		if v, ok := s.data[b.SyncID][b.Prefix+k]; ok {
			out[k] = v
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
	m := s.data[b.SyncID]
	if m == nil {
		m = map[string][]byte{}
		s.data[b.SyncID] = m
	}
	delta := 0
	for k, v := range values {
		k = b.Prefix + k
		if old, ok := m[k]; ok {
			delta -= len(k) + len(old)
		}
		delta += len(k) + len(v)
	}
	if s.size+delta > s.maxBytes {
		return fmt.Errorf("session store full (%d of %d bytes used)", s.size, s.maxBytes)
	}
	for k, v := range values {
		m[b.Prefix+k] = append([]byte(nil), v...)
	}
	s.size += delta
	return nil
}

func (s *Store) Delete(ctx context.Context, key string, opt ...sessions.SessionStoreOption) error {
	b, err := bag(ctx, opt)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := b.Prefix + key
	if v, ok := s.data[b.SyncID][k]; ok {
		s.size -= len(k) + len(v)
		delete(s.data[b.SyncID], k)
	}
	return nil
}

// Clear drops every value of the sync (baton-sdk calls it when a sync ends).
func (s *Store) Clear(ctx context.Context, opt ...sessions.SessionStoreOption) error {
	b, err := bag(ctx, opt)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.data[b.SyncID] {
		if strings.HasPrefix(k, b.Prefix) {
			s.size -= len(k) + len(v)
			delete(s.data[b.SyncID], k)
		}
	}
	if len(s.data[b.SyncID]) == 0 {
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
	for k, v := range s.data[b.SyncID] {
		if strings.HasPrefix(k, b.Prefix) {
			out[strings.TrimPrefix(k, b.Prefix)] = v
		}
	}
	return out, "", nil
}

// Size returns the bytes currently held.
func (s *Store) Size() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size
}
