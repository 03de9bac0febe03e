package sandbox

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/baton-runner/baton-runner/abi"
)

// TestJSONLenIsWhatZapWrites: the charge for a message is its length as
// zap's JSON encoder writes it, escapes included.
func TestJSONLenIsWhatZapWrites(t *testing.T) {
	for _, s := range []string{"", "plain", "\x00\x01\x1f", "\"quoted\" \\ back", "\n\r\t", "héllo ✓", "\xff\xfe bad utf-8", strings.Repeat("\x07", 100)} {
		var buf bytes.Buffer
		enc := zapcore.NewJSONEncoder(zapcore.EncoderConfig{MessageKey: "m"})
		b, err := enc.EncodeEntry(zapcore.Entry{Message: s}, nil)
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(b.Bytes())
		// {"m":"…"}\n
		if want := buf.Len() - len(`{"m":""}`+"\n"); jsonLen(s) != want {
			t.Errorf("jsonLen(%q) = %d, zap wrote %d", s, jsonLen(s), want)
		}
	}
}

// TestLineWriterKeepsLittleOfALongLine: a guest writing without newlines
// costs the host at most one clipped line.
func TestLineWriterKeepsLittleOfALongLine(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	w := newGuestLogs(zap.New(core), 1<<20).stream("stdout")
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	for range 16 {
		_, _ = w.Write(chunk)
	}
	if len(w.buf) > abi.MaxTextBytes {
		t.Errorf("holding %d bytes of an unfinished line", len(w.buf))
	}
	_, _ = w.Write([]byte("\nnext\n"))
	all := logs.All()
	if len(all) != 2 {
		t.Fatalf("logged %d lines, want 2", len(all))
	}
	if len(all[0].Message) > abi.MaxTextBytes || !strings.Contains(all[0].Message, fmt.Sprintf("%d more bytes cut", 16*len(chunk)-lineKeep)) || all[1].Message != "next" {
		t.Errorf("logged a %d-byte line ending %q, then %q", len(all[0].Message), all[0].Message[len(all[0].Message)-40:], all[1].Message)
	}
}
