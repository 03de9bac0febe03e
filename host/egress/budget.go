package egress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
)

// A BatchBudget bounds the response bodies of several requests together:
// those of one batch, whose reply must stay within abi.MaxBatchReplyBytes.
// Given in the requests' context (WithBatchBudget), it makes the Client
// take each body's bytes from the budget as it reads them, and refuse a
// response the budget cannot hold without reading the rest of it: the
// batch's responses then cost the host the budget, not its requests in
// flight times MaxResponseBytes. The bodies of responses that are not
// returned (a 429, a 5xx retried, a failed read) go back to the budget.
type BatchBudget struct {
	mu   sync.Mutex
	size int64
	left int64
}

// NewBatchBudget returns a budget of size bytes.
func NewBatchBudget(size int64) *BatchBudget {
	return &BatchBudget{size: size, left: size}
}

type batchBudgetKey struct{}

// WithBatchBudget returns ctx carrying b for the Client's requests.
func WithBatchBudget(ctx context.Context, b *BatchBudget) context.Context {
	return context.WithValue(ctx, batchBudgetKey{}, b)
}

// batchBudgetFrom returns ctx's budget; a nil budget is unbounded.
func batchBudgetFrom(ctx context.Context) *BatchBudget {
	b, _ := ctx.Value(batchBudgetKey{}).(*BatchBudget)
	return b
}

func (b *BatchBudget) remaining() int64 {
	if b == nil {
		return math.MaxInt64
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.left
}

// take reserves n bytes, or reports false and reserves nothing if fewer
// are left.
func (b *BatchBudget) take(n int64) bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > b.left {
		return false
	}
	b.left -= n
	return true
}

// give returns n bytes of a body that was dropped.
func (b *BatchBudget) give(n int64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.left += n
}

func (b *BatchBudget) exceeded() error {
	return fmt.Errorf("the batch's responses exceed %d MiB together; send this request in a smaller batch", b.size>>20)
}

var errOverBudget = errors.New("over the batch's budget")

// budgetReader takes the bytes it reads from a budget, and fails once the
// budget cannot hold them. Each read asks for at most one byte more than
// is left, so a body that ends exactly at the budget still fits, and one
// that goes on is refused having read no more than that.
type budgetReader struct {
	r     io.Reader
	b     *BatchBudget
	taken int64
}

func (br *budgetReader) Read(p []byte) (int, error) {
	if left := br.b.remaining(); left < int64(len(p)) {
		p = p[:left+1]
	}
	n, err := br.r.Read(p)
	if !br.b.take(int64(n)) {
		return n, errOverBudget
	}
	br.taken += int64(n)
	return n, err
}
