package synctrack

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baton-runner/baton-runner/host/synclimits"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTracker(l synclimits.Limits, disk *synclimits.Disk) (*Tracker, *clock) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	t := NewTracker(l, disk)
	t.SetClock(c.now)
	return t, c
}

// exceeded asserts err is the limit key's error and names its flag.
func exceeded(t *testing.T, err error, key string) {
	t.Helper()
	var e *synclimits.Error
	if !errors.As(err, &e) || e.Key != key {
		t.Fatalf("err = %v, want the %s limit", err, key)
	}
	flag := "--" + strings.ReplaceAll(key, "_", "-")
	if msg := err.Error(); !strings.Contains(msg, key+" in runner.toml") || !strings.Contains(msg, flag) {
		t.Errorf("message %q does not say how to raise %s", msg, key)
	}
}

func TestErrorNamesLimitValueKeyAndFlag(t *testing.T) {
	tr, _ := newTracker(synclimits.Limits{}, nil)
	s := tr.Sync("a")
	s.pages.Store(synclimits.DefaultMaxPages)
	err := s.ChargePage()
	want := "sync exceeded max_pages (2000000 guest list calls; raise max_pages in runner.toml or --max-pages)"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
}

func TestPagesItemsRequestsPerSync(t *testing.T) {
	tr, _ := newTracker(synclimits.Limits{MaxPages: 3, MaxItems: 10, RequestBudget: 5}, nil)
	a := tr.Sync("a")
	for range 3 {
		if err := a.ChargePage(); err != nil {
			t.Fatal(err)
		}
	}
	exceeded(t, a.ChargePage(), "max_pages")
	// The failure is sticky: the sync's other workers stop too.
	exceeded(t, a.ChargeRequest(), "max_pages")
	exceeded(t, a.Check(), "max_pages")
	if tr.Sync("a") != a {
		t.Fatal("the same sync ID got new state")
	}

	b := tr.Sync("b")
	if err := b.ChargeItems(10); err != nil {
		t.Fatalf("another sync shares a's counts: %v", err)
	}
	exceeded(t, b.ChargeItems(1), "max_items")

	c := tr.Sync("c")
	for range 5 {
		if err := c.ChargeRequest(); err != nil {
			t.Fatal(err)
		}
	}
	exceeded(t, c.ChargeRequest(), "request_budget")

	// Calls outside a sync each get a fresh scope.
	one, two := tr.Sync(""), tr.Sync("")
	for range 5 {
		if err := one.ChargeRequest(); err != nil {
			t.Fatal(err)
		}
	}
	if err := two.ChargeRequest(); err != nil {
		t.Errorf("a call outside any sync was charged for another: %v", err)
	}
	if tr.Tracked() != 3 {
		t.Errorf("tracking %d syncs, want 3 (calls outside a sync are not kept)", tr.Tracked())
	}
}

func TestNegativeDisablesAndZeroBudgetIsUnlimited(t *testing.T) {
	tr, c := newTracker(synclimits.Limits{MaxPages: -1, MaxEmptyPages: -1, MaxItems: -1, Timeout: -1, MaxDepth: -1}, nil)
	s := tr.Sync("a")
	for i := range 2 * synclimits.DefaultMaxEmptyPages {
		if err := s.ChargePage(); err != nil {
			t.Fatal(err)
		}
		if err := s.NotePage(0, fmt.Sprint(i), fmt.Sprint(i+1), "list_resources", "user"); err != nil {
			t.Fatal(err)
		}
		if err := s.ChargeRequest(); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.ChargeItems(synclimits.DefaultMaxItems * 2); err != nil {
		t.Fatal(err)
	}
	c.add(100 * synclimits.DefaultTimeout)
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Deadline(); ok {
		t.Error("a disabled timeout has a deadline")
	}
	if d, err := s.ChildDepth("g", "x"); err != nil || d != 1 {
		t.Fatalf("ChildDepth = %d, %v", d, err)
	}
}

func TestEmptyPagesInARowOfOneListing(t *testing.T) {
	tr, _ := newTracker(synclimits.Limits{MaxEmptyPages: 3}, nil)
	s := tr.Sync("a")
	page := func(items int, token, next string, listing ...string) {
		t.Helper()
		if err := s.NotePage(items, token, next, listing...); err != nil {
			t.Fatalf("%v %q→%q: %v", listing, token, next, err)
		}
	}
	users := []string{"list_resources", "user", "", ""}
	grantsOf := func(id string) []string { return []string{"list_grants", "group", id} }
	// Three empty pages in a row of each listing pass; the pages of other
	// listings between them neither add to a listing's count nor reset it.
	for i := range 3 {
		page(0, fmt.Sprint("u", i), fmt.Sprint("u", i+1), users...)
		page(0, fmt.Sprint("g", i), fmt.Sprint("g", i+1), grantsOf("g1")...)
		page(0, fmt.Sprint("g", i), fmt.Sprint("g", i+1), grantsOf("g2")...)
	}
	// A page with items resets its listing's count, and so does its last
	// page, empty or not: a listing run again starts from zero.
	page(1, "g3", "g4", grantsOf("g1")...)
	page(0, "g3", "", grantsOf("g2")...)
	for i := range 3 {
		page(0, fmt.Sprint("h", i), fmt.Sprint("h", i+1), grantsOf("g1")...)
		page(0, fmt.Sprint("h", i), fmt.Sprint("h", i+1), grantsOf("g2")...)
	}
	// A page that hands back the token it was called with is no progress
	// whatever it lists: the next call asks for the same page again.
	for range 3 {
		page(5, "same", "same", "list_entitlements", "group", "g1")
	}
	exceeded(t, s.NotePage(5, "same", "same", "list_entitlements", "group", "g1"), "max_empty_pages")
	// The failure ends the whole sync; another sync counts on its own.
	exceeded(t, s.ChargePage(), "max_empty_pages")
	if err := tr.Sync("b").NotePage(0, "u3", "u4", users...); err != nil {
		t.Errorf("another sync shares a's counts: %v", err)
	}

	s = tr.Sync("c")
	for i := range 3 {
		page(0, fmt.Sprint(i), fmt.Sprint(i+1), users...)
	}
	err := s.NotePage(0, "3", "4", users...)
	exceeded(t, err, "max_empty_pages")
	want := "sync exceeded max_empty_pages (3 pages in a row of one listing that listed nothing or handed back their page token; " +
		"raise max_empty_pages in runner.toml or --max-empty-pages)"
	if err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
}

func TestStalledListingsAreBounded(t *testing.T) {
	tr, _ := newTracker(synclimits.Limits{}, nil)
	s := tr.Sync("a")
	for i := range MaxStalledListings {
		if err := s.NotePage(0, "", "next", "list_grants", "group", fmt.Sprint(i)); err != nil {
			t.Fatal(i, err)
		}
	}
	// A listing already counted goes on; a new one is refused.
	if err := s.NotePage(0, "next", "more", "list_grants", "group", "0"); err != nil {
		t.Fatal(err)
	}
	err := s.NotePage(0, "", "next", "list_grants", "group", "one-more")
	if err == nil || !strings.Contains(err.Error(), "listings") {
		t.Fatalf("err = %v", err)
	}
}

func TestWallTime(t *testing.T) {
	tr, c := newTracker(synclimits.Limits{Timeout: time.Hour}, nil)
	s := tr.Sync("a")
	if dl, ok := s.Deadline(); !ok || !dl.Equal(c.now().Add(time.Hour)) {
		t.Errorf("deadline = %v, %v", dl, ok)
	}
	c.add(59 * time.Minute)
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
	c.add(time.Minute)
	exceeded(t, s.Check(), "sync_timeout")
}

func TestDepth(t *testing.T) {
	tr, _ := newTracker(synclimits.Limits{MaxDepth: 2}, nil)
	s := tr.Sync("a")
	// top (depth 0) → a (1) → b (2) → listing below b would be depth 3.
	d, err := s.ChildDepth("t", "top")
	if err != nil || d != 1 {
		t.Fatalf("below top: %d, %v", d, err)
	}
	if err := s.NoteParent("t", "a", d); err != nil {
		t.Fatal(err)
	}
	if d, err = s.ChildDepth("t", "a"); err != nil || d != 2 {
		t.Fatalf("below a: %d, %v", d, err)
	}
	if err := s.NoteParent("t", "b", d); err != nil {
		t.Fatal(err)
	}
	_, err = s.ChildDepth("t", "b")
	exceeded(t, err, "max_depth")
	// Another sync starts from scratch.
	if _, err := tr.Sync("b").ChildDepth("t", "b"); err != nil {
		t.Errorf("depth leaked between syncs: %v", err)
	}
}

func TestNestedParentsAreBounded(t *testing.T) {
	tr, _ := newTracker(synclimits.Limits{}, nil)
	s := tr.Sync("a")
	for i := range MaxNestedParents {
		if err := s.NoteParent("t", fmt.Sprint(i), 1); err != nil {
			t.Fatal(i, err)
		}
	}
	// Updating a known parent costs nothing; a new one is refused.
	if err := s.NoteParent("t", "0", 2); err != nil {
		t.Fatal(err)
	}
	err := s.NoteParent("t", "one-more", 1)
	if err == nil || !strings.Contains(err.Error(), "nested resources") {
		t.Fatalf("err = %v", err)
	}
}

func TestTrackerForgetsOldSyncs(t *testing.T) {
	tr, c := newTracker(synclimits.Limits{Timeout: time.Hour}, nil)
	old := tr.Sync("old")
	c.add(2 * time.Hour)
	tr.Sync("new")
	if tr.Tracked() != 1 {
		t.Fatalf("tracking %d, want the idle sync forgotten", tr.Tracked())
	}
	if tr.Sync("old") == old {
		t.Error("an idle sync was kept")
	}
	for i := range 3 * MaxTracked {
		c.add(time.Millisecond)
		tr.Sync(fmt.Sprint("s", i))
	}
	if n := tr.Tracked(); n > MaxTracked {
		t.Errorf("tracking %d syncs, more than %d", n, MaxTracked)
	}
	// The most recently used sync survives the eviction.
	recent := tr.Sync(fmt.Sprint("s", 3*MaxTracked-1))
	tr.Sync("another")
	if tr.Sync(fmt.Sprint("s", 3*MaxTracked-1)) != recent {
		t.Error("the most recent sync was evicted")
	}
}

func TestDiskProbe(t *testing.T) {
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	c1z := filepath.Join(dir, "x.partial")
	disk := &synclimits.Disk{}
	disk.Watch(work, c1z)
	if disk.Usage() != 0 {
		t.Fatal("missing paths must count as empty")
	}
	tr, c := newTracker(synclimits.Limits{MaxC1ZBytes: 3 << 20}, disk)
	s := tr.Sync("a")
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(work, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(work, "sub", "f"), c1z} {
		if err := os.WriteFile(p, make([]byte, 2<<20), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := disk.Usage(); got != 4<<20 {
		t.Fatalf("usage = %d, want %d", got, 4<<20)
	}
	// Probed at most once a second: the next check within the second
	// passes, the one after it fails.
	if err := s.Check(); err != nil {
		t.Fatalf("probed again within %s: %v", ProbeEvery, err)
	}
	c.add(ProbeEvery)
	exceeded(t, s.Check(), "max_c1z_mib")
}
