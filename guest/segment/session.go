package segment

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"

	"github.com/baton-runner/baton-runner/guest"
)

// Session keys. The host scopes keys to one sync, so none of them carries a
// sync id. Every value is a cache: a miss or an undecodable value means
// "recompute", never "empty".
const (
	workspaceKey = "workspace" // workspace of GET /
	rolesKey     = "roles"     // []role, the whole of GET /roles
	sourcesKey   = "sources"   // []source, the whole of GET /sources
	// extrasAllKey holds the union of every extrasKey page once all were
	// seen; extrasWarnedKey notes that missing pages were reported.
	extrasAllKey    = "extras:all"
	extrasWarnedKey = "extras:warned"
)

// Principal kinds used in session keys.
const (
	kindUser  = "user"
	kindGroup = "group"
)

// permKey holds the []permission of one user or group, gathered while
// listing so that ListGrants does not fetch the principal again.
func permKey(kind, id string) string { return "perm:" + kind + ":" + id }

// extrasKey holds the []scopedRole of one list page of users or groups:
// role grants on resources that the role table does not predict.
func extrasKey(kind string, page int) string { return "extras:" + kind + ":" + strconv.Itoa(page) }

// extrasPagesKey holds the number of pages of users or groups, written on
// the last page, so a reader knows when it has seen every extrasKey.
func extrasPagesKey(kind string) string { return "extras:" + kind + ":pages" }

// cache wraps the host session. Failures of the session itself are logged
// and treated as misses: the cache only saves requests.
type cache struct {
	s      guest.Session
	log    logger
	memo   *syncMemo
	syncID string
}

// syncMemo keeps the decoded values of the session keys that do not change
// during a sync (the role, source and extras lists), for the sync that
// last used this connector instance. Decoding the source list for every
// user with a label-scoped permission dominated sandboxed syncs: JSON is
// slow in WebAssembly. Values are shared read-only.
type syncMemo struct {
	mu     sync.Mutex
	syncID string
	values map[string]any
}

// recall returns the value memoised for key in the current sync.
func recall[T any](c cache, key string) (T, bool) {
	var zero T
	if c.memo == nil || c.syncID == "" {
		return zero, false
	}
	c.memo.mu.Lock()
	defer c.memo.mu.Unlock()
	if c.memo.syncID != c.syncID {
		return zero, false
	}
	v, ok := c.memo.values[key].(T)
	return v, ok
}

// remember memoises v for key in the current sync, forgetting any other
// sync's values.
func (c cache) remember(key string, v any) {
	if c.memo == nil || c.syncID == "" {
		return
	}
	c.memo.mu.Lock()
	defer c.memo.mu.Unlock()
	if c.memo.syncID != c.syncID {
		c.memo.syncID, c.memo.values = c.syncID, map[string]any{}
	}
	c.memo.values[key] = v
}

// load decodes the value of key into out and reports whether it did.
func (c cache) load(ctx context.Context, key string, out any) bool {
	if c.s == nil {
		return false
	}
	b, ok, err := c.s.Get(ctx, key)
	if err != nil {
		c.log.warnf("session get %q failed, recomputing: %v", key, err)
		return false
	}
	if !ok {
		return false
	}
	if p, ok := out.(*[]permission); ok {
		if v, ok := decodePermissions(b); ok {
			*p = v
			return true
		}
	}
	if err := json.Unmarshal(b, out); err != nil {
		c.log.warnf("session value %q is not valid JSON, recomputing: %v", key, err)
		return false
	}
	return true
}

// store encodes v under key; a failure only costs requests later.
func (c cache) store(ctx context.Context, key string, v any) {
	if c.s == nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		c.log.warnf("session value %q not encodable: %v", key, err)
		return
	}
	if err := c.s.Set(ctx, key, b); err != nil {
		c.log.warnf("session set %q failed: %v", key, err)
	}
}
