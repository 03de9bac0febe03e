package sessionstore

import (
	"context"
	"testing"

	"github.com/conductorone/baton-sdk/pkg/types/sessions"
)

func TestScopedBySyncAndBounded(t *testing.T) {
	ctx := context.Background()
	s := New(100)
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
	if err := s.Set(ctx, "big", make([]byte, 100), a); err == nil {
		t.Error("a value past the size bound was stored")
	}
	if err := s.Set(ctx, "k", []byte("x"), a); err != nil || s.Size() != 2 {
		t.Errorf("overwrite: err %v, size %d, want 2", err, s.Size())
	}
	if err := s.Clear(ctx, a); err != nil || s.Size() != 0 {
		t.Errorf("clear: err %v, size %d", err, s.Size())
	}
	if _, _, err := s.Get(ctx, "k"); err == nil {
		t.Error("a call without a sync id must fail")
	}
}
