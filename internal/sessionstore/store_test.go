package sessionstore

import (
	"context"
	"runtime"
	"strconv"
	"testing"

	"github.com/conductorone/baton-sdk/pkg/types/sessions"
)

func TestScopedBySyncAndBounded(t *testing.T) {
	ctx := context.Background()
	s := New(200 + 2*EntryOverhead)
	a, b := sessions.WithSyncID("a"), sessions.WithSyncID("b")
	if err := s.Set(ctx, "k", []byte("1234567890"), a); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Get(ctx, "k", b); ok {
		t.Error("sync b sees sync a's value")
	}
	if v, ok, _ := s.Get(ctx, "k", a); !ok || string(v) != "1234567890" {
		t.Errorf("Get = %q, %v", v, ok)
	}
	if err := s.Set(ctx, "big", make([]byte, 200), a); err == nil {
		t.Error("a value past the size bound was stored")
	}
	if err := s.Set(ctx, "k", []byte("x"), a); err != nil || s.Size() != 2+EntryOverhead {
		t.Errorf("overwrite: err %v, size %d, want %d", err, s.Size(), 2+EntryOverhead)
	}
	if err := s.Delete(ctx, "k", a); err != nil || s.Size() != 0 {
		t.Errorf("delete: err %v, size %d", err, s.Size())
	}
	if err := s.Set(ctx, "k", []byte("x"), a); err != nil {
		t.Fatal(err)
	}
	if err := s.Clear(ctx, a); err != nil || s.Size() != 0 {
		t.Errorf("clear: err %v, size %d", err, s.Size())
	}
	if _, _, err := s.Get(ctx, "k"); err == nil {
		t.Error("a call without a sync id must fail")
	}
}

func TestEveryEntryIsChargedItsOverhead(t *testing.T) {
	ctx := context.Background()
	s := New(10 * EntryOverhead)
	a := sessions.WithSyncID("a")
	n := 0
	for ; s.Set(ctx, strconv.Itoa(n), nil, a) == nil; n++ {
	}
	// Empty values and one-byte keys: without the overhead the store
	// would take thousands.
	if n != 9 {
		t.Errorf("stored %d empty entries in %d bytes, want 9", n, 10*EntryOverhead)
	}
}

// TestAFullStoreDropsOtherSyncsFirst: a sync that failed before
// baton-sdk's cleanup (which clears only successful syncs) must not hold
// the store for the next one.
func TestAFullStoreDropsOtherSyncsFirst(t *testing.T) {
	ctx := context.Background()
	s := New(4 * (EntryOverhead + 101))
	val := make([]byte, 100)
	for _, id := range []string{"old", "newer"} {
		for k := range 2 {
			if err := s.Set(ctx, strconv.Itoa(k), val, sessions.WithSyncID(id)); err != nil {
				t.Fatal(id, err)
			}
		}
	}
	cur := sessions.WithSyncID("current")
	if err := s.Set(ctx, "0", val, cur); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Get(ctx, "0", sessions.WithSyncID("old")); ok {
		t.Error("the least recently written sync was kept")
	}
	if _, ok, _ := s.Get(ctx, "0", sessions.WithSyncID("newer")); !ok {
		t.Error("more was dropped than needed")
	}
	// A write larger than the whole store drops nothing.
	if err := s.Set(ctx, "huge", make([]byte, 4*(EntryOverhead+101)), cur); err == nil {
		t.Fatal("an oversized write was stored")
	}
	if _, ok, _ := s.Get(ctx, "0", sessions.WithSyncID("newer")); !ok {
		t.Error("a write that could never fit dropped another sync")
	}
}

func heapBytes() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestHeapStaysWithinMaxBytes fills a store with tiny entries, the worst
// case for per-entry overhead, until it refuses: the heap it takes stays
// within its MaxBytes (measured: 0.47× for 402k entries).
func TestHeapStaysWithinMaxBytes(t *testing.T) {
	const maxBytes = 64 << 20
	ctx := context.Background()
	a := sessions.WithSyncID("a")
	val := []byte{1}
	before := heapBytes()
	s := New(maxBytes)
	n := 0
	for ; ; n++ {
		if err := s.Set(ctx, strconv.Itoa(n), val, a); err != nil {
			break
		}
	}
	grew := int64(heapBytes()) - int64(before)
	t.Logf("%d entries, %d bytes charged, heap +%d bytes (%.2f× MaxBytes)", n, s.Size(), grew, float64(grew)/maxBytes)
	if grew > maxBytes*5/4 {
		t.Errorf("heap grew by %d bytes for a store of %d", grew, maxBytes)
	}
	runtime.KeepAlive(s)
}
