package dr

import (
	"strings"

	"casino/redact"
)

// Redacted replaces every secret in what dr writes.
const Redacted = redact.Mask

// Redactor is the one redactor of package redact; dr scrubs every byte that
// reaches a journal or a proof with it.
type Redactor = redact.Redactor

// NewRedactor collects secrets from an environment in os.Environ form (see
// redact.New).
func NewRedactor(environ []string) *Redactor { return redact.New(environ) }

// IsSecretName reports whether a variable's name marks its value as secret.
func IsSecretName(name string) bool { return redact.IsSecretName(name) }

// scrubTorn masks a PEM private-key block that has no END line: output
// capped at OutputCap can cut a key in half, and the redactor's pattern
// needs both ends. Everything from the BEGIN line on is masked.
func scrubTorn(s string) string {
	i := strings.Index(s, "-----BEGIN ")
	for i >= 0 {
		rest := s[i:]
		nl := strings.IndexByte(rest, '\n')
		head := rest
		if nl >= 0 {
			head = rest[:nl]
		}
		if strings.Contains(head, "PRIVATE KEY-----") && !strings.Contains(rest, "-----END ") {
			return s[:i] + Redacted
		}
		j := strings.Index(s[i+1:], "-----BEGIN ")
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return s
}

// scrub is what every string dr journals or renders passes: the redactor
// (by value and by pattern), then scrubTorn.
func scrub(r *Redactor, s string) string { return scrubTorn(r.String(s)) }
