// Package redact scrubs secrets from every byte casino writes where a person
// or a file may read it: logs, error messages, -h output, DR journals and
// proofs. It works by value (secrets it has been told or has learned) and by
// pattern (secrets it has never seen, recognised by their shape or their
// name), so a password typed on a command line is caught as surely as one
// held in the environment.
//
// What the patterns catch:
//   - NAME=value where NAME looks secret (PASSWORD, SECRET, TOKEN, KEY, PASS,
//     CREDENTIAL), quoted or not, in env and config form (aws_secret_access_key = …);
//   - the password of a URL's userinfo, and libpq's password=… keyword;
//   - --password X and --password=X (and --*-password, --*-secret, --*-token);
//   - Bearer tokens, JWT-shaped strings, PEM private-key blocks and age
//     secret keys (AGE-SECRET-KEY-1…);
//   - "password"/"token" fields in JSON;
//   - values a casino command printed as generated secrets (see Generated).
//
// Forty-character hex strings (commit hashes) and public keys survive.
package redact

import (
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Mask replaces every secret.
const Mask = "***"

// minSecretLen keeps very short values (KEY=1, TOKEN=on, revoked_tokens=0)
// from being scrubbed, by value or by pattern: they are counts and switches,
// not secrets worth the damage.
const minSecretLen = 4

// IsSecretName reports whether a variable's, flag's or keyword's name marks
// its value as a secret. The name is read in segments split at '_', '-' and
// '.': a segment containing PASSWORD, PASSWD, PASSPHRASE, SECRET, TOKEN or
// CREDENTIAL, or equal to PASS, or ending in KEY, makes it secret. Names
// whose value is public by design are not: public and verify keys, age
// recipients, and names whose last segment says the value is a path, a time,
// a count or an id (CASINO_OWNER_PASSWORD_FILE, tokens_valid_after,
// CASINO_TOKEN_TTL, KEY_ID).
func IsSecretName(name string) bool {
	segs := strings.FieldsFunc(strings.ToUpper(name), func(r rune) bool {
		return !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	})
	if len(segs) == 0 {
		return false
	}
	if publicLast[segs[len(segs)-1]] && !secretSegment(segs[len(segs)-1]) {
		return false
	}
	for i, s := range segs {
		if s == "PUBLIC" || s == "VERIFY" || s == "PUB" {
			// VERIFY_KEY, PUBLIC_KEY: public by design.
			if i+1 < len(segs) && strings.HasSuffix(segs[i+1], "KEY") {
				return false
			}
		}
	}
	for _, s := range segs {
		if secretSegment(s) {
			return true
		}
	}
	return false
}

func secretSegment(s string) bool {
	for _, p := range []string{"PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "TOKEN", "CREDENTIAL"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return s == "PASS" || s == "PGPASS" || strings.HasSuffix(s, "KEY")
}

// publicLast are last segments that say the value is not the secret itself.
var publicLast = map[string]bool{
	"FILE": true, "PATH": true, "DIR": true, "ID": true, "AT": true, "AFTER": true,
	"TTL": true, "COUNT": true, "COUNTS": true, "FINGERPRINT": true, "EXPIRES": true,
	"MODE": true, "LEN": true, "LENGTH": true, "MIN": true, "MAX": true, "TIMEOUT": true,
	"INTERVAL": true, "RECIPIENTS": true, "RECIPIENT": true, "PUB": true, "ROTATED": true,
}

// GeneratedPrefix starts every line on which casino prints a secret it
// generated (a one-time password, a new key). The redactor masks the rest of
// such a line, so `casino dr run` records that a secret was printed but not
// the secret. Use Generated to print one.
const GeneratedPrefix = "generated secret "

// Generated returns the line casino prints for a generated secret named name:
// "generated secret NAME: VALUE". Print it only to a terminal-facing stream.
func Generated(name, value string) string {
	return GeneratedPrefix + name + ": " + value
}

// Redactor scrubs secrets by value and by pattern. The zero value and nil
// scrub by pattern only. It is safe for concurrent use.
type Redactor struct {
	mu      sync.RWMutex
	secrets []string // longest first, so a secret containing another goes whole
}

// New collects secrets from an environment in os.Environ form: every value
// of a variable whose name is secret (IsSecretName), and every secret the
// patterns find in any value (a URL's password, a libpq password=…).
func New(environ []string) *Redactor {
	r := &Redactor{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if IsSecretName(k) {
			r.Add(v)
		}
		r.Learn(v)
	}
	return r
}

// Add records a secret value; values shorter than 4 bytes are ignored.
func (r *Redactor) Add(secret string) {
	secret = strings.TrimSpace(secret)
	if r == nil || len(secret) < minSecretLen {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	add := func(s string) {
		for _, have := range r.secrets {
			if have == s {
				return
			}
		}
		r.secrets = append(r.secrets, s)
	}
	add(secret)
	// Escaped forms appear in URLs, logs and JSON.
	if esc := url.QueryEscape(secret); esc != secret {
		add(esc)
	}
	if esc := url.PathEscape(secret); esc != secret {
		add(esc)
	}
	sort.Slice(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
}

// Learn records the secrets the patterns find in s, so that later output
// repeating one of them bare (without the name or shape that gave it away)
// is scrubbed too.
func (r *Redactor) Learn(s string) {
	if r == nil {
		return
	}
	for _, p := range patterns {
		for _, m := range p.re.FindAllStringSubmatchIndex(s, -1) {
			if p.value < 0 {
				whole := s[m[0]:m[1]]
				r.Add(whole)
				// A PEM block's body lines can be repeated on their own.
				for _, line := range strings.Split(whole, "\n") {
					if line = strings.TrimSpace(line); len(line) >= 16 && !strings.HasPrefix(line, "-----") {
						r.Add(line)
					}
				}
				continue
			}
			if m[2*p.value] < 0 {
				continue
			}
			if p.name > 0 && !IsSecretName(s[m[2*p.name]:m[2*p.name+1]]) {
				continue
			}
			v := unquote(s[m[2*p.value]:m[2*p.value+1]])
			if v == Mask {
				continue
			}
			r.Add(v)
			if u, err := url.PathUnescape(v); err == nil {
				r.Add(u)
			}
		}
	}
}

// String returns s with every known secret and every secret-shaped pattern
// replaced by ***. It learns the patterned ones first, so a secret seen once
// is scrubbed wherever it appears later.
func (r *Redactor) String(s string) string {
	if r != nil {
		r.Learn(s)
		r.mu.RLock()
		for _, sec := range r.secrets {
			s = strings.ReplaceAll(s, sec, Mask)
		}
		r.mu.RUnlock()
	}
	return scrubPatterns(s)
}

// Bytes is String for byte slices.
func (r *Redactor) Bytes(b []byte) []byte { return []byte(r.String(string(b))) }

// String scrubs s by pattern alone.
func String(s string) string { return scrubPatterns(s) }

// Error returns err's message scrubbed by pattern, or "" for nil.
func Error(err error) string {
	if err == nil {
		return ""
	}
	return scrubPatterns(err.Error())
}

// pattern is one secret shape. value is the submatch holding the secret (-1:
// the whole match is the secret); name, when > 0, is the submatch whose name
// must look secret (IsSecretName) for the value to be masked.
type pattern struct {
	re    *regexp.Regexp
	name  int
	value int
}

// A value: single-quoted, double-quoted, or up to whitespace, quote or
// a separator that ends a value in a shell or a connection string.
const valueRE = `('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s'"&;,]+)`

var patterns = []pattern{
	// PEM private keys, whole blocks.
	{re: regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----`), value: -1},
	// age secret keys.
	{re: regexp.MustCompile(`AGE-SECRET-KEY-1[0-9A-Z]{20,}`), value: -1},
	// JWTs.
	{re: regexp.MustCompile(`eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+`), value: -1},
	// URL userinfo: scheme://user:PASSWORD@
	{re: regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s"']*:([^@/\s"']+)@`), value: 1},
	// Bearer tokens.
	{re: regexp.MustCompile(`(?i)\bbearer\s+([A-Za-z0-9._~+/=-]{16,})`), value: 1},
	// JSON fields.
	{re: regexp.MustCompile(`(?i)"([a-z_]*(?:password|token|secret)[a-z_]*)"\s*:\s*"((?:[^"\\]|\\.){4,})"`), name: 1, value: 2},
	// Flags: --password X, --password=X, --db-password X, -password X.
	{re: regexp.MustCompile(`(?i)(?:^|\s)--?([a-z0-9-]*(?:password|passwd|secret|token))(?:=|\s+)` + valueRE), name: 1, value: 2},
	// NAME=value in env, shell and libpq keyword/value form; config form
	// "name = value" too. The name is checked by IsSecretName.
	{re: regexp.MustCompile(`(?i)\b([a-z_][a-z0-9_.-]*)\s?=\s?` + valueRE), name: 1, value: 2},
	// Generated secrets: the rest of the line.
	{re: regexp.MustCompile(`(?m)` + regexp.QuoteMeta(GeneratedPrefix) + `[^:\n]*:\s*(\S[^\n]*)`), value: 1},
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '\'' || v[0] == '"') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}

func scrubPatterns(s string) string {
	for _, p := range patterns {
		if p.value < 0 {
			s = p.re.ReplaceAllString(s, Mask)
			continue
		}
		s = replaceSubmatch(s, p)
	}
	return s
}

// replaceSubmatch masks the value submatch of every match of p whose name
// (if any) looks secret.
func replaceSubmatch(s string, p pattern) string {
	ms := p.re.FindAllStringSubmatchIndex(s, -1)
	if len(ms) == 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range ms {
		vs, ve := m[2*p.value], m[2*p.value+1]
		if vs < 0 {
			continue
		}
		if p.name > 0 && !IsSecretName(s[m[2*p.name]:m[2*p.name+1]]) {
			continue
		}
		// A value shorter than minSecretLen (revoked_tokens=0, TOKEN=on) is
		// a count or a switch, not a secret worth hiding.
		if s[vs:ve] == Mask || len(unquote(s[vs:ve])) < minSecretLen {
			continue
		}
		b.WriteString(s[last:vs])
		v := s[vs:ve]
		if len(v) >= 2 && (v[0] == '\'' || v[0] == '"') && v[len(v)-1] == v[0] {
			b.WriteByte(v[0])
			b.WriteString(Mask)
			b.WriteByte(v[0])
		} else {
			b.WriteString(Mask)
		}
		last = ve
	}
	b.WriteString(s[last:])
	return b.String()
}

// DatabaseURL returns a database URL or libpq connection string with its
// password masked, in any form: postgres://user:PW@host/db, ?password=PW,
// host=… password=PW …, and strings too malformed to parse.
func DatabaseURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.Scheme != "" {
		changed := false
		if u.User != nil {
			if _, ok := u.User.Password(); ok {
				u.User = url.UserPassword(u.User.Username(), Mask)
				changed = true
			}
		}
		q := u.Query()
		for k := range q {
			if IsSecretName(k) {
				q.Set(k, Mask)
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
			out := u.String()
			// url.String escapes the mask; keep it readable.
			out = strings.ReplaceAll(out, url.QueryEscape(Mask), Mask)
			return strings.ReplaceAll(out, url.PathEscape(Mask), Mask)
		}
		return s
	}
	out := scrubPatterns(s)
	// A URL too broken to parse: mask everything between :// and the last @.
	if i := strings.Index(out, "://"); i >= 0 {
		if j := strings.LastIndex(out, "@"); j > i+3 {
			return out[:i+3] + Mask + out[j:]
		}
	}
	return out
}
