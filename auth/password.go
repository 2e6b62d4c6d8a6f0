// Package auth holds casino's identity mechanics: Argon2id password hashing
// bounded by a semaphore, HS256 access tokens with every claim checked, and
// Service, the login/logout/verify flow with database-backed throttling,
// revocation and login freeze. Persistence comes from a casino.AuthStore;
// the access policy lives in the root package (casino.Allowed).
package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are Argon2id parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
	SaltLen uint32
	KeyLen  uint32
}

// MinParams is OWASP's minimum for Argon2id: 19 MiB, 2 passes, 1 lane.
var MinParams = Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// DefaultParams is what new hashes use.
var DefaultParams = MinParams

// weakerThan reports whether p is below the minimum in any dimension.
func (p Params) weakerThan(m Params) bool {
	return p.Memory < m.Memory || p.Time < m.Time || p.Threads < m.Threads || p.SaltLen < m.SaltLen || p.KeyLen < m.KeyLen
}

// HasherConfig configures a Hasher.
type HasherConfig struct {
	Params Params
	// MaxConcurrent bounds the hashes running at once, and so the memory a
	// login flood can take (Params.Memory each). Default: GOMAXPROCS.
	MaxConcurrent int
	// AllowWeakForTests accepts parameters below MinParams. Only tests set
	// it; production configuration cannot reach it.
	AllowWeakForTests bool
}

// Hasher hashes and verifies passwords as Argon2id PHC strings:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt b64>$<hash b64>
type Hasher struct {
	params Params
	sem    chan struct{}
	dummy  string
}

// NewHasher returns a Hasher, refusing parameters below OWASP's minimum
// unless AllowWeakForTests is set.
func NewHasher(c HasherConfig) (*Hasher, error) {
	if c.Params == (Params{}) {
		c.Params = DefaultParams
	}
	if c.Params.weakerThan(MinParams) && !c.AllowWeakForTests {
		return nil, fmt.Errorf("argon2id parameters m=%d,t=%d,p=%d are below the minimum m=%d,t=%d,p=%d", c.Params.Memory, c.Params.Time, c.Params.Threads, MinParams.Memory, MinParams.Time, MinParams.Threads)
	}
	if c.MaxConcurrent <= 0 {
		c.MaxConcurrent = runtime.GOMAXPROCS(0)
	}
	h := &Hasher{params: c.Params, sem: make(chan struct{}, c.MaxConcurrent)}
	d, err := h.hash([]byte("dummy password for unknown emails"))
	if err != nil {
		return nil, err
	}
	h.dummy = d
	return h, nil
}

// Params returns the parameters new hashes use.
func (h *Hasher) Params() Params { return h.params }

// acquire waits for a hashing slot, or for ctx.
func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Hasher) release() { <-h.sem }

// Hash returns the PHC string of password under the current parameters.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	return h.hash([]byte(password))
}

func (h *Hasher) hash(pw []byte) (string, error) {
	p := h.params
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey(pw, salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return encodePHC(p, salt, key), nil
}

func encodePHC(p Params, salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// ErrBadHash is returned for a stored hash that is not an Argon2id PHC
// string this package understands.
var ErrBadHash = errors.New("password hash is not an argon2id PHC string")

func decodePHC(s string) (Params, []byte, []byte, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return Params{}, nil, nil, ErrBadHash
	}
	var p Params
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil {
			return Params{}, nil, nil, ErrBadHash
		}
		switch k {
		case "m":
			p.Memory = uint32(n)
		case "t":
			p.Time = uint32(n)
		case "p":
			if n > 255 {
				return Params{}, nil, nil, ErrBadHash
			}
			p.Threads = uint8(n)
		default:
			return Params{}, nil, nil, ErrBadHash
		}
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	key, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) == 0 || len(key) == 0 || p.Memory == 0 || p.Time == 0 || p.Threads == 0 || p.Memory > 4<<20 || p.Time > 100 {
		return Params{}, nil, nil, ErrBadHash
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}

// Verify reports whether password matches the PHC string, and whether the
// hash should be recomputed because its parameters differ from the current
// ones.
func (h *Hasher) Verify(ctx context.Context, password, phc string) (ok, rehash bool, err error) {
	if _, _, _, err := decodePHC(phc); err != nil {
		return false, false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	defer h.release()
	return h.verifyInSlot(password, phc)
}

// withSlot runs fn holding one hashing slot; fn uses the *InSlot methods.
func (h *Hasher) withSlot(ctx context.Context, fn func() error) error {
	if err := h.acquire(ctx); err != nil {
		return err
	}
	defer h.release()
	return fn()
}

// verifyInSlot is Verify for a caller already holding a slot.
func (h *Hasher) verifyInSlot(password, phc string) (ok, rehash bool, err error) {
	p, salt, key, err := decodePHC(phc)
	if err != nil {
		return false, false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	if subtle.ConstantTimeCompare(got, key) != 1 {
		return false, false, nil
	}
	return true, p != h.params, nil
}

// VerifyDummy spends the time of one verification against a hash of the
// current parameters, so an unknown email answers as slowly as a wrong
// password.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) {
	h.Verify(ctx, password, h.dummy)
}

// verifyDummyInSlot is VerifyDummy for a caller already holding a slot.
func (h *Hasher) verifyDummyInSlot(password string) { h.verifyInSlot(password, h.dummy) }

// GeneratePassword returns a random password of n characters (at least 20)
// from an alphabet without look-alikes.
func GeneratePassword(n int) string {
	if n < 20 {
		n = 20
	}
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, n)
	r := make([]byte, n)
	for i := 0; i < n; {
		rand.Read(r)
		for _, c := range r {
			if int(c) < 256-256%len(alphabet) && i < n {
				b[i] = alphabet[int(c)%len(alphabet)]
				i++
			}
		}
	}
	return string(b)
}
