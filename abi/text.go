package abi

import (
	"fmt"
	"unicode/utf8"
)

// MaxTextBytes is how much of any text a guest hands the host (an error
// message, a log line, a trap's description) the host keeps. Guest text
// ends up in logs, gRPC status messages and ConductorOne task results,
// where its size is the host's cost, not the guest's.
const MaxTextBytes = 4 << 10

// ClipText returns s cut to at most MaxTextBytes bytes on a UTF-8 boundary,
// saying how much was cut.
func ClipText(s string) string {
	if len(s) <= MaxTextBytes {
		return s
	}
	note := fmt.Sprintf("… [%d more bytes cut]", len(s)-MaxTextBytes)
	cut := MaxTextBytes - len(note)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + note
}
