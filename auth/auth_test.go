package auth

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var cheap = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestHasherRefusesWeakParams(t *testing.T) {
	t.Parallel()
	if _, err := NewHasher(HasherConfig{Params: cheap}); err == nil {
		t.Fatal("weak parameters accepted without AllowWeakForTests")
	}
	h, err := NewHasher(HasherConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if h.Params() != MinParams || MinParams.Memory < 19456 || MinParams.Time < 2 || MinParams.Threads < 1 {
		t.Errorf("default params %+v below OWASP minimum", h.Params())
	}
}

func TestHashVerifyRehash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, err := NewHasher(HasherConfig{})
	if err != nil {
		t.Fatal(err)
	}
	phc, err := h.Hash(ctx, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(phc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("PHC string: got %q", phc)
	}
	if ok, rehash, err := h.Verify(ctx, "correct horse battery", phc); !ok || rehash || err != nil {
		t.Errorf("verify right password: ok=%v rehash=%v err=%v", ok, rehash, err)
	}
	if ok, _, _ := h.Verify(ctx, "wrong", phc); ok {
		t.Error("wrong password verified")
	}
	// A hash made with other parameters verifies and asks for a rehash.
	weak, _ := NewHasher(HasherConfig{Params: cheap, AllowWeakForTests: true})
	old, _ := weak.Hash(ctx, "pw")
	if ok, rehash, _ := h.Verify(ctx, "pw", old); !ok || !rehash {
		t.Errorf("old-params hash: ok=%v rehash=%v, want true true", ok, rehash)
	}
	for _, bad := range []string{"", "plain", "$argon2i$v=19$m=1,t=1,p=1$AAAA$AAAA", "$argon2id$v=19$m=99999999,t=1,p=1$AAAA$AAAA", "$argon2id$v=19$m=64,t=1,p=1$!!$AAAA"} {
		if _, _, err := h.Verify(ctx, "pw", bad); err != ErrBadHash {
			t.Errorf("Verify(%q): got %v, want ErrBadHash", bad, err)
		}
	}
}

// TestHasherBoundsConcurrency: no more than MaxConcurrent hashes run at once.
func TestHasherBoundsConcurrency(t *testing.T) {
	t.Parallel()
	h, _ := NewHasher(HasherConfig{Params: cheap, MaxConcurrent: 2, AllowWeakForTests: true})
	var running, peak atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.acquire(context.Background())
			n := running.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(time.Millisecond)
			running.Add(-1)
			h.release()
		}()
	}
	wg.Wait()
	if peak.Load() > 2 {
		t.Errorf("peak concurrent hashes: %d, want <= 2", peak.Load())
	}
	// A waiting hash gives up with its context.
	h.acquire(context.Background())
	h.acquire(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := h.Hash(ctx, "x"); err == nil {
		t.Error("hash ran with every slot taken")
	}
}

func TestGeneratePassword(t *testing.T) {
	t.Parallel()
	a, b := GeneratePassword(0), GeneratePassword(24)
	if len(a) != 20 || len(b) != 24 || a == b[:20] {
		t.Errorf("got %q and %q", a, b)
	}
}

func TestTokens(t *testing.T) {
	t.Parallel()
	key := NewKey()
	tk, err := NewTokens(key, 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewTokens(key[:31], time.Minute); err == nil {
		t.Error("248-bit key accepted")
	}
	s, c, err := tk.Issue(7, "a@b.c", "tenant_admin", 3)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tk.Parse(s)
	if err != nil || got.UserID() != 7 || got.TenantID != 3 || got.Role != "tenant_admin" || got.ID != c.ID || got.Issuer != Issuer {
		t.Fatalf("parse: %+v %v", got, err)
	}
	if c.ExpiresAt.Sub(c.IssuedAt.Time) != 30*time.Minute || len(c.ID) != 32 {
		t.Errorf("claims: %+v", c)
	}
	sign := func(method jwt.SigningMethod, k any, mut func(*Claims)) string {
		cc := *c
		mut(&cc)
		s, err := jwt.NewWithClaims(method, &cc).SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	now := time.Now()
	bad := map[string]string{
		"tampered":      s[:len(s)-2] + "xx",
		"other key":     sign(jwt.SigningMethodHS256, NewKey(), func(*Claims) {}),
		"alg none":      sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, func(*Claims) {}),
		"alg HS512":     sign(jwt.SigningMethodHS512, key, func(*Claims) {}),
		"wrong iss":     sign(jwt.SigningMethodHS256, key, func(c *Claims) { c.Issuer = "evil" }),
		"wrong aud":     sign(jwt.SigningMethodHS256, key, func(c *Claims) { c.Audience = jwt.ClaimStrings{"other"} }),
		"expired":       sign(jwt.SigningMethodHS256, key, func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Minute)) }),
		"no exp":        sign(jwt.SigningMethodHS256, key, func(c *Claims) { c.ExpiresAt = nil }),
		"future iat":    sign(jwt.SigningMethodHS256, key, func(c *Claims) { c.IssuedAt = jwt.NewNumericDate(now.Add(time.Hour)) }),
		"no iat":        sign(jwt.SigningMethodHS256, key, func(c *Claims) { c.IssuedAt = nil }),
		"no jti":        sign(jwt.SigningMethodHS256, key, func(c *Claims) { c.ID = "" }),
		"sub not an id": sign(jwt.SigningMethodHS256, key, func(c *Claims) { c.Subject = "admin" }),
		"no role":       sign(jwt.SigningMethodHS256, key, func(c *Claims) { c.Role = "" }),
		"garbage":       "not.a.token",
	}
	for name, s := range bad {
		if _, err := tk.Parse(s); err == nil {
			t.Errorf("%s: token accepted", name)
		}
	}
}

// TestTokenMemoStillExpires: a token verified once is remembered, but its
// expiry is still enforced.
func TestTokenMemoStillExpires(t *testing.T) {
	t.Parallel()
	tk, _ := NewTokens(NewKey(), time.Minute)
	s, _, _ := tk.Issue(1, "a@b.c", "owner", 0)
	if _, err := tk.Parse(s); err != nil {
		t.Fatal(err)
	}
	tk.now = func() time.Time { return time.Now().Add(2 * time.Minute) }
	if _, err := tk.Parse(s); err == nil {
		t.Error("expired memoized token accepted")
	}
}
