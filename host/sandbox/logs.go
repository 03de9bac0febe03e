package sandbox

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	extism "github.com/extism/go-sdk"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/time/rate"

	"github.com/baton-runner/baton-runner/abi"
)

// lineOverhead is what the host charges each guest log line on top of its
// message: the fields the host's logger adds. A production JSON line of a
// tenant with a 63-character name (the longest config allows), at error
// level, with the stream field, empty message and no caller, measures
// 157 bytes:
//
//	{"level":"error","ts":1796147113.8631856,"msg":"","tenant":"ttt…","guest":true,"stream":"stderr"}
//
// 256 leaves room for a field or two more. Without it a guest logging
// empty lines was never charged at all.
const lineOverhead = 256

// logRefill is the period over which a spent log budget refills: logs per
// sync are bounded by MaxLogBytes × (1 + hours the sync runs).
const logRefill = time.Hour

// guestLogs is a pool's (so a tenant's) log budget and its guests' logger.
// It belongs to the pool, not to an instance: instances come and go, and a
// budget per instance reset every time a hostile guest got its instance
// discarded.
type guestLogs struct {
	// lines logs guest lines: marked guest=true, and never with a stack
	// trace or caller, which would describe the host, not the guest, and
	// multiply the cost of every error line.
	lines *zap.Logger
	host  *zap.Logger
	// limiter holds MaxLogBytes and refills MaxLogBytes per logRefill.
	limiter *rate.Limiter
	dropped atomic.Uint64

	mu       sync.Mutex
	dropping bool
	warned   time.Time
}

func newGuestLogs(logger *zap.Logger, budget int) *guestLogs {
	never := zap.LevelEnablerFunc(func(zapcore.Level) bool { return false })
	return &guestLogs{
		lines:   logger.WithOptions(zap.AddStacktrace(never), zap.WithCaller(false)).With(zap.Bool("guest", true)),
		host:    logger,
		limiter: rate.NewLimiter(rate.Limit(float64(budget)/logRefill.Seconds()), budget),
	}
}

// log writes one guest line if its level is enabled and the budget allows
// its cost, clipping msg to abi.MaxTextBytes.
func (g *guestLogs) log(level zapcore.Level, msg string, fields ...zap.Field) {
	if !g.lines.Core().Enabled(level) {
		return
	}
	msg = abi.ClipText(msg)
	if !g.take(lineOverhead + jsonLen(msg)) {
		return
	}
	if ce := g.lines.Check(level, msg); ce != nil {
		ce.Write(fields...)
	}
}

// take charges n bytes to the budget and reports whether they may be
// written. It warns when dropping starts, at most once per refill period.
func (g *guestLogs) take(n int) bool {
	now := time.Now()
	ok := g.limiter.AllowN(now, n)
	if !ok {
		g.dropped.Add(uint64(n))
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if ok || g.dropping {
		g.dropping = !ok
		return ok
	}
	g.dropping = true
	if g.warned.IsZero() || now.Sub(g.warned) >= logRefill {
		g.warned = now
		g.host.Warn("guest exceeded its log budget; its log lines are dropped until the budget refills",
			zap.Int("budgetBytes", g.limiter.Burst()), zap.Duration("refillsIn", logRefill))
	}
	return false
}

// jsonLen is the length of s as zap's JSON encoder writes it: a guest
// line of control characters costs six times its length.
func jsonLen(s string) int {
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				n += len(`\ufffd`)
			} else {
				n += size
			}
			i += size
			continue
		}
		switch {
		case c == '\\' || c == '"' || c == '\n' || c == '\r' || c == '\t':
			n += 2
		case c < 0x20:
			n += len(`\u0000`)
		default:
			n++
		}
		i++
	}
	return n
}

var extismLevels = map[extism.LogLevel]zapcore.Level{
	extism.LogLevelTrace: zapcore.DebugLevel,
	extism.LogLevelDebug: zapcore.DebugLevel,
	extism.LogLevelInfo:  zapcore.InfoLevel,
	extism.LogLevelWarn:  zapcore.WarnLevel,
	extism.LogLevelError: zapcore.ErrorLevel,
}

// guestLog is the extism logger of an instance.
func (g *guestLogs) guestLog(level extism.LogLevel, msg string) {
	zl, ok := extismLevels[level]
	if !ok {
		zl = zapcore.InfoLevel
	}
	g.log(zl, msg)
}

// stream returns a writer for an instance's stdout or stderr that logs
// complete lines.
func (g *guestLogs) stream(name string) *lineWriter {
	return &lineWriter{logs: g, name: name}
}

// lineWriter logs what a guest writes to a stream, line by line. It keeps
// at most lineKeep bytes of a line and drops the rest of it, so a guest
// writing without newlines costs the host no memory.
type lineWriter struct {
	logs *guestLogs
	name string
	buf  []byte
	cut  int
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		line, rest, ended := bytes.Cut(p, []byte{'\n'})
		keep := min(len(line), lineKeep-len(w.buf))
		w.buf = append(w.buf, line[:keep]...)
		w.cut += len(line) - keep
		p = rest
		if !ended {
			break
		}
		w.flush()
	}
	return n, nil
}

// lineKeep leaves room in abi.MaxTextBytes for the note of what was cut.
const lineKeep = abi.MaxTextBytes - 64

func (w *lineWriter) flush() {
	msg := string(w.buf)
	if w.cut > 0 {
		msg = fmt.Sprintf("%s… [%d more bytes cut]", w.buf, w.cut)
	}
	w.logs.log(zapcore.InfoLevel, msg, zap.String("stream", w.name))
	w.buf, w.cut = w.buf[:0], 0
}
