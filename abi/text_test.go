package abi

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClipText(t *testing.T) {
	if got := ClipText("short"); got != "short" {
		t.Errorf("short text changed: %q", got)
	}
	exact := strings.Repeat("a", MaxTextBytes)
	if got := ClipText(exact); got != exact {
		t.Error("text of exactly MaxTextBytes was cut")
	}
	long := strings.Repeat("é", 3*MaxTextBytes) // 2 bytes per rune: cuts must respect runes
	got := ClipText(long)
	if len(got) > MaxTextBytes || !utf8.ValidString(got) || !strings.Contains(got, "more bytes cut]") {
		t.Errorf("clipped to %d bytes, valid UTF-8 %v, tail %q", len(got), utf8.ValidString(got), got[len(got)-40:])
	}
}
