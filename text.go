package casino

import (
	"unicode"
	"unicode/utf8"
)

// TextProblem says what is wrong with a piece of text input, "" when nothing
// is: it must be valid UTF-8 and hold no control characters (NUL included).
// Tab, newline and carriage return are allowed only when multiline is true.
// PostgreSQL refuses NUL and invalid UTF-8 in text columns where SQLite
// stores them, so every text field is checked with it at the edge (the API's
// decoder and query parser, the CLI) and both engines see the same input.
func TextProblem(s string, multiline bool) string {
	if !utf8.ValidString(s) {
		return "must be valid UTF-8"
	}
	for _, r := range s {
		if multiline && (r == '\t' || r == '\n' || r == '\r') {
			continue
		}
		if unicode.IsControl(r) {
			return "must not contain control characters"
		}
	}
	return ""
}
