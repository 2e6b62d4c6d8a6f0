package dr

import (
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// Redacted replaces every secret in what dr writes.
const Redacted = "***"

// minSecretLen keeps very short values (KEY=1, TOKEN=on) from being scrubbed
// everywhere they happen to appear: they are not secrets worth the damage.
const minSecretLen = 4

// secretNameParts mark an environment variable as secret by name.
var secretNameParts = []string{"PASSWORD", "TOKEN", "SECRET", "KEY"}

// IsSecretName reports whether an environment variable's name marks its
// value as a secret.
func IsSecretName(name string) bool {
	up := strings.ToUpper(name)
	for _, p := range secretNameParts {
		if strings.Contains(up, p) {
			return true
		}
	}
	return false
}

// Redactor scrubs secrets by value, plus the patterns of secrets it has not
// been told about: passwords inside URLs and bearer tokens.
type Redactor struct {
	secrets []string // longest first, so a secret containing another goes whole
}

// NewRedactor collects secrets from an environment in os.Environ form:
// every value of a variable whose name is secret (IsSecretName), and the
// password of every URL found in any value.
func NewRedactor(environ []string) *Redactor {
	r := &Redactor{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if IsSecretName(k) {
			r.Add(v)
		}
		r.addURLPasswords(v)
	}
	return r
}

// Add records a secret value; values shorter than 4 bytes are ignored.
func (r *Redactor) Add(secret string) {
	secret = strings.TrimSpace(secret)
	if len(secret) < minSecretLen {
		return
	}
	for _, s := range r.secrets {
		if s == secret {
			return
		}
	}
	r.secrets = append(r.secrets, secret)
	// A URL-escaped form can appear in URLs and logs too.
	if esc := url.QueryEscape(secret); esc != secret {
		r.secrets = append(r.secrets, esc)
	}
	sort.Slice(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
}

func (r *Redactor) addURLPasswords(s string) {
	for _, m := range urlPassword.FindAllStringSubmatch(s, -1) {
		p := m[2]
		if u, err := url.PathUnescape(p); err == nil {
			r.Add(u)
		}
		r.Add(p)
	}
}

// Learn records secrets found by pattern in s (bearer tokens, access_token
// fields, URL passwords), so that later output repeating them bare is
// scrubbed too.
func (r *Redactor) Learn(s string) {
	for _, re := range tokenPatterns {
		for _, m := range re.FindAllStringSubmatch(s, -1) {
			r.Add(m[len(m)-1])
		}
	}
	r.addURLPasswords(s)
}

var (
	urlPassword   = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s"']+):([^@/\s"']+)@`)
	tokenPatterns = []*regexp.Regexp{
		regexp.MustCompile(`(?i)(bearer\s+)([A-Za-z0-9._~+/=-]{16,})`),
		regexp.MustCompile(`(?i)("(?:access_token|refresh_token|token|password)"\s*:\s*")([^"]{4,})`),
	}
	jwtPattern = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+`)
)

// String returns s with every known secret and every secret-shaped pattern
// replaced by ***. It learns the patterned ones first, so a token seen once
// is scrubbed wherever it appears.
func (r *Redactor) String(s string) string {
	if r == nil {
		return s
	}
	r.Learn(s)
	for _, sec := range r.secrets {
		s = strings.ReplaceAll(s, sec, Redacted)
	}
	s = urlPassword.ReplaceAllString(s, "${1}:"+Redacted+"@")
	for _, re := range tokenPatterns {
		s = re.ReplaceAllString(s, "${1}"+Redacted)
	}
	s = jwtPattern.ReplaceAllString(s, Redacted)
	return s
}
