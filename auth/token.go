package auth

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Token claim values every access token carries and every verification
// checks.
const (
	Issuer   = "casino"
	Audience = "casino-admin"
)

// MinKeyLen is the shortest accepted signing key: 256 bits.
const MinKeyLen = 32

// Claims are the claims of an access token: the registered ones (iss, aud,
// sub = user id, iat, exp, jti) and the caller's role and tenant.
type Claims struct {
	Role     string `json:"role"`
	TenantID int64  `json:"tid,omitempty"`
	Email    string `json:"email"`
	// IssuedAtMicros is iat in microseconds: a password reset refuses the
	// tokens issued before it, including those of the same second.
	IssuedAtMicros int64 `json:"iat_us"`
	jwt.RegisteredClaims
}

// Tokens issues and verifies HS256 access tokens. New tokens are signed
// with the current key and carry its kid in their header; a token verifies
// with the key its kid names, so older keys keep verifying their tokens
// after a rotation until they are dropped.
type Tokens struct {
	keys func() (keySet, bool, error)
	ttl  time.Duration
	now  func() time.Time

	// verified remembers the claims of tokens whose signature and claims
	// already checked out, so a token used for many requests pays for the
	// HMAC and JSON once; expiry is still checked on every use, and
	// revocation is the store's business.
	mu       sync.Mutex
	verified map[string]*Claims
}

// maxVerified bounds the verified-token memo; it is cleared when full.
const maxVerified = 10000

// NewTokens returns a token issuer with the key (at least 256 bits) and
// lifetime.
func NewTokens(key []byte, ttl time.Duration) (*Tokens, error) {
	if len(key) < MinKeyLen {
		return nil, fmt.Errorf("token signing key must be at least %d bytes, is %d", MinKeyLen, len(key))
	}
	if ttl <= 0 {
		return nil, errors.New("token lifetime must be positive")
	}
	set, err := newKeySet([]SigningKey{{ID: KeyID(key), Secret: append([]byte(nil), key...)}})
	if err != nil {
		return nil, err
	}
	return &Tokens{keys: func() (keySet, bool, error) { return set, false, nil }, ttl: ttl, now: time.Now, verified: map[string]*Claims{}}, nil
}

// NewFileTokens returns a token issuer whose keys are those of the key
// file, reread within a second of a change (a rotation, or a --revoke-old
// that must refuse the old keys' tokens at once).
func NewFileTokens(f *KeyFile, ttl time.Duration) (*Tokens, error) {
	if ttl <= 0 {
		return nil, errors.New("token lifetime must be positive")
	}
	if _, _, err := f.keys(); err != nil {
		return nil, err
	}
	return &Tokens{keys: f.keys, ttl: ttl, now: time.Now, verified: map[string]*Claims{}}, nil
}

// keySet returns the current keys, forgetting verified tokens when they
// changed (a revoked key's tokens must not live on in the memo).
func (t *Tokens) keySet() (keySet, error) {
	ks, changed, err := t.keys()
	if changed {
		t.mu.Lock()
		clear(t.verified)
		t.mu.Unlock()
	}
	return ks, err
}

// TTL returns the lifetime of new tokens.
func (t *Tokens) TTL() time.Duration { return t.ttl }

// Issue signs a new token for the user.
func (t *Tokens) Issue(userID int64, email, role string, tenantID int64) (string, *Claims, error) {
	exact := t.now().UTC()
	now := exact.Truncate(time.Second)
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", nil, err
	}
	c := &Claims{
		Role: role, TenantID: tenantID, Email: email, IssuedAtMicros: exact.UnixMicro(),
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Audience:  jwt.ClaimStrings{Audience},
			Subject:   strconv.FormatInt(userID, 10),
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(t.ttl)),
			ID:        hex.EncodeToString(jti[:]),
		},
	}
	ks, err := t.keySet()
	if err != nil {
		return "", nil, err
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
	tok.Header["kid"] = ks.current.ID
	s, err := tok.SignedString(ks.current.Secret)
	if err != nil {
		return "", nil, err
	}
	return s, c, nil
}

// ErrInvalidToken is every verification failure; the reason is wrapped
// for logs only.
var ErrInvalidToken = errors.New("invalid token")

// Parse verifies a token: HS256 only, signature, iss, aud, exp, iat (not
// in the future), and sub, jti and role present.
func (t *Tokens) Parse(s string) (*Claims, error) {
	ks, err := t.keySet()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	t.mu.Lock()
	memo := t.verified[s]
	t.mu.Unlock()
	if memo != nil {
		if !t.now().Before(memo.ExpiresAt.Time.Add(5 * time.Second)) {
			return nil, fmt.Errorf("%w: token is expired", ErrInvalidToken)
		}
		c := *memo
		return &c, nil
	}
	var c Claims
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(Issuer),
		jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(5*time.Second),
		jwt.WithTimeFunc(t.now),
	)
	_, err = p.ParseWithClaims(s, &c, func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		if kid == "" {
			// issued before keys had ids: the key moved out of the database
			return ks.current.Secret, nil
		}
		if k, ok := ks.byID[kid]; ok {
			return k, nil
		}
		return nil, fmt.Errorf("unknown or revoked signing key %q", kid)
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if c.IssuedAt == nil || c.ID == "" || c.Role == "" {
		return nil, fmt.Errorf("%w: missing iat, jti or role", ErrInvalidToken)
	}
	if _, err := strconv.ParseInt(c.Subject, 10, 64); err != nil {
		return nil, fmt.Errorf("%w: sub is not a user id", ErrInvalidToken)
	}
	t.mu.Lock()
	if len(t.verified) >= maxVerified {
		clear(t.verified)
	}
	memo = &c
	t.verified[s] = memo
	t.mu.Unlock()
	cc := c
	return &cc, nil
}

// IssuedAtExact returns the issue time to the microsecond.
func (c *Claims) IssuedAtExact() time.Time {
	if c.IssuedAtMicros > 0 {
		return time.UnixMicro(c.IssuedAtMicros).UTC()
	}
	return c.IssuedAt.Time
}

// UserID returns the subject as a user id.
func (c *Claims) UserID() int64 {
	n, _ := strconv.ParseInt(c.Subject, 10, 64)
	return n
}

// NewKey returns a fresh random 256-bit signing key.
func NewKey() []byte {
	k := make([]byte, MinKeyLen)
	rand.Read(k)
	return k
}
