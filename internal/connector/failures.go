package connector

import (
	"crypto/sha256"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// MaxAttempts is how many times in a row the same guest call may fail with
// a retryable error before the host stops baton-sdk from retrying it.
// baton-sdk's syncer retries Unavailable and DeadlineExceeded without
// limit, so an upstream that fails for good (a cursor that loops, an
// endpoint that answers 503 forever) would otherwise hang a sync instead
// of failing it with a clear error. Ten attempts span more than a minute of
// baton-sdk's growing back-off, on top of the host's own retries.
const MaxAttempts = 10

// failureCounts counts consecutive retryable failures per call (export and
// exact input, which includes the sync id and page token).
type failureCounts struct {
	max    int
	mu     sync.Mutex
	counts map[[sha256.Size]byte]int
}

func key(export string, input []byte) [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte(export))
	h.Write([]byte{0})
	h.Write(input)
	var k [sha256.Size]byte
	copy(k[:], h.Sum(nil))
	return k
}

// bound passes err through, unless it is retryable and this call has now
// failed max times in a row: then it becomes Aborted, which baton-sdk does
// not retry.
func (f *failureCounts) bound(export string, input []byte, err error) error {
	code := status.Code(err)
	if code != codes.Unavailable && code != codes.DeadlineExceeded {
		return err
	}
	k := key(export, input)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.counts == nil {
		f.counts = map[[sha256.Size]byte]int{}
	}
	f.counts[k]++
	if f.counts[k] < f.max {
		return err
	}
	delete(f.counts, k)
	return status.Errorf(codes.Aborted, "giving up after %d failed attempts: %s", f.max, status.Convert(err).Message())
}

// succeeded forgets the failures of a call that went through.
func (f *failureCounts) succeeded(export string, input []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.counts) > 0 {
		delete(f.counts, key(export, input))
	}
}
