package sandbox

import (
	"bytes"
	"sync"

	extism "github.com/extism/go-sdk"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// logSink forwards an instance's log messages and stdout/stderr lines to
// the host logger, up to a byte budget, so a guest flooding its output
// cannot flood the host's logs or memory.
type logSink struct {
	logger  *zap.Logger
	mu      sync.Mutex
	left    int
	dropped int
}

func newLogSink(logger *zap.Logger, budget int) *logSink {
	return &logSink{logger: logger.With(zap.Bool("guest", true)), left: budget}
}

// take charges n bytes to the budget and reports whether they may be logged.
func (s *logSink) take(n int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n > s.left {
		if s.dropped == 0 {
			s.logger.Warn("guest exceeded its log budget; further output of this instance is dropped")
		}
		s.dropped += n
		s.left = 0
		return false
	}
	s.left -= n
	return true
}

var extismLevels = map[extism.LogLevel]zapcore.Level{
	extism.LogLevelTrace: zapcore.DebugLevel,
	extism.LogLevelDebug: zapcore.DebugLevel,
	extism.LogLevelInfo:  zapcore.InfoLevel,
	extism.LogLevelWarn:  zapcore.WarnLevel,
	extism.LogLevelError: zapcore.ErrorLevel,
}

// guestLog is the extism logger of an instance.
func (s *logSink) guestLog(level extism.LogLevel, msg string) {
	zl, ok := extismLevels[level]
	if !ok {
		zl = zapcore.InfoLevel
	}
	if !s.logger.Core().Enabled(zl) || !s.take(len(msg)) {
		return
	}
	if ce := s.logger.Check(zl, msg); ce != nil {
		ce.Write()
	}
}

// stream returns a writer for the guest's stdout or stderr that logs
// complete lines.
func (s *logSink) stream(name string) *lineWriter {
	return &lineWriter{sink: s, name: name}
}

type lineWriter struct {
	sink *logSink
	name string
	buf  []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	if !w.sink.take(len(p)) {
		return len(p), nil
	}
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.sink.logger.Info(string(w.buf[:i]), zap.String("stream", w.name))
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}
