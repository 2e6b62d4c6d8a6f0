package casino_test

import (
	"strings"
	"testing"

	"casino"
)

// TestEmailLookAlikes (issue 14, finding 5): addresses that look identical
// are one account or refused, never two accounts.
func TestEmailLookAlikes(t *testing.T) {
	// NFC and NFD, full-width and upper case fold to one form.
	same := []string{"josé@casino.com", "jose\u0301@casino.com", "JOSÉ@Casino.COM", "ｊｏｓé@casino.com"}
	for _, e := range same {
		if got := casino.NormalizeEmail(e); got != "josé@casino.com" {
			t.Errorf("NormalizeEmail(%q) = %q, want josé@casino.com", e, got)
		}
		if msg := casino.ValidateEmail(e); msg != "" {
			t.Errorf("ValidateEmail(%q) = %q, want ok", e, msg)
		}
	}
	refused := map[string]string{
		"ad\u200bmin@casino.com":  "invisible",   // zero-width space
		"admin\u2060@casino.com":  "invisible",   // word joiner
		"admin@casi\u00adno.com":  "invisible",   // soft hyphen
		"\u0430dmin@casino.com":   "mix scripts", // Cyrillic а
		"admin@c\u0430sino.com":   "mix scripts", // Cyrillic а in the domain
		"admin\u3164@casino.com":  "invisible",   // Hangul filler
		"admin\x00@casino.com":    "control",
		"admin\xff@casino.com":    "UTF-8",
		"admin\ufe0f@casino.com":  "invisible", // variation selector
		"adm\u0131n@casino.com":   "",          // dotless i is Latin: allowed
		"иван@casino.com":         "",          // one script per part: allowed
		"иван@казино.рф":          "",
		"admin@casino.com":        "",
		"\u0391dmin@casino.com":   "mix scripts", // Greek Alpha
		"admin@xn--casino-.com":   "",
		"a\u200d\u200ddmin@x.com": "invisible", // zero-width joiner
	}
	for e, want := range refused {
		got := casino.ValidateEmail(e)
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("ValidateEmail(%q) = %q, want a message containing %q", e, got, want)
		}
	}
}

// TestPasswordRules (issue 14, finding 5): 12 spaces or 12 NULs are not a
// password, nor is a famous one.
func TestPasswordRules(t *testing.T) {
	cases := map[string]string{
		strings.Repeat(" ", 12):         "whitespace",
		strings.Repeat("\u3000", 12):    "whitespace",
		" \t \t \t \t \t \t":            "control",
		strings.Repeat("\x00", 12):      "control",
		"abcdefghij\x00k":               "control",
		"short":                         "at least 12",
		"password1234":                  "common",
		"PASSWORD1234":                  "common",
		"Qwertyuiop123":                 "common",
		strings.Repeat("a", 1025):       "at most",
		"valid\xffpassword":             "UTF-8",
		"correct horse battery staple!": "",
		"tenant-admin-password-1":       "",
		"ünïcödé-pässwörd":              "",
	}
	for pw, want := range cases {
		got := casino.ValidatePassword(pw)
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("ValidatePassword(%q) = %q, want a message containing %q", pw, got, want)
		}
	}
}
