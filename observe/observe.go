// Package observe is what every HTTP answer of casino passes through, API and
// console alike: the request id (honoured from X-Request-ID when valid, echoed
// back), the client address, panic recovery, the one request log line of
// docs/ops/log_schema.md, the request metrics, and the per-request state that
// handlers fill in (route, identity, internal error) for that line.
//
// Handlers reach the state through the request's context: SetRoute,
// SetIdentity and SetError record, RequestID and ClientIP read. Outside
// Middleware they do nothing and read "".
package observe

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Info is the state of one request as it passes through the layers; the
// request log line and the metrics are written from it. Middleware allocates
// it once per request, with the response writer wrappers inside.
type Info struct {
	ID string
	// ClientRequestID is a valid X-Request-ID the client sent that was
	// not taken as ID: the client chose it, so it is kept apart.
	ClientRequestID string
	Route           string // the route pattern; "" until a route claims the request
	RemoteIP        string
	TenantID        int64 // 0 when unknown
	UserID          int64 // 0 when unknown
	Err             error // internal error, logged but never sent

	// Per-request scratch that would otherwise be allocated separately on
	// the hot path: the context that carries Info, the response writer
	// wrappers, a generated id's bytes and the header value.
	ctx   infoCtx
	sw    statusWriter
	mw    muxWriter
	idBuf [32]byte
	idHdr [1]string
}

// infoCtx is the request's context with its Info: context.WithValue without
// an allocation of its own.
type infoCtx struct {
	context.Context
	info *Info
}

func (c *infoCtx) Value(key any) any {
	if _, ok := key.(infoKey); ok {
		return c.info
	}
	return c.Context.Value(key)
}

type infoKey struct{}

// From returns the state of the request being served, nil outside
// Middleware.
func From(ctx context.Context) *Info {
	info, _ := ctx.Value(infoKey{}).(*Info)
	return info
}

// RequestID returns the id of the request being served, "" outside one.
func RequestID(ctx context.Context) string {
	if info := From(ctx); info != nil {
		return info.ID
	}
	return ""
}

// ClientRequestID returns the X-Request-ID the client of the request sent,
// when valid and not taken as the request's id; "" otherwise.
func ClientRequestID(ctx context.Context) string {
	if info := From(ctx); info != nil {
		return info.ClientRequestID
	}
	return ""
}

// ClientIP returns the client address decided by Middleware (see
// TrustedProxies), "" outside a request.
func ClientIP(ctx context.Context) string {
	if info := From(ctx); info != nil {
		return info.RemoteIP
	}
	return ""
}

// SetRoute records the route pattern of the request for its log line and
// metrics. Patterns are fixed strings of the code, never taken from the
// request, which keeps the route label a closed set.
func SetRoute(ctx context.Context, pattern string) {
	if info := From(ctx); info != nil {
		info.Route = pattern
	}
}

// SetIdentity records the authenticated user and tenant for the request log.
func SetIdentity(ctx context.Context, userID, tenantID int64) {
	if info := From(ctx); info != nil {
		info.UserID, info.TenantID = userID, tenantID
	}
}

// SetError records an internal error for the request log; it is never sent
// to the client.
func SetError(ctx context.Context, err error) {
	if info := From(ctx); info != nil {
		info.Err = err
	}
}

// validRequestID reports whether an incoming X-Request-ID may be honoured: at
// most 128 characters of [A-Za-z0-9._-].
func validRequestID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// NewRequestID returns 128 random bits in hex.
func NewRequestID() string {
	var b [32]byte
	newRequestID(&b)
	return string(b[:])
}

// newRequestID writes 128 random bits in hex into b. The bits come from the
// runtime's per-thread ChaCha8 generator (math/rand/v2), seeded from the
// system's randomness: unpredictable enough for an id that only correlates
// log lines, and without crypto/rand's system call per request.
func newRequestID(b *[32]byte) {
	var r [16]byte
	binary.LittleEndian.PutUint64(r[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(r[8:], rand.Uint64())
	hex.Encode(b[:], r[:])
}

// clientIP is the peer address, or the right-most untrusted X-Forwarded-For
// entry when the peer is a trusted proxy.
func clientIP(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if len(trusted) == 0 {
		return host
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a.Unmap()) {
				return true
			}
		}
		return false
	}
	if !isTrusted(peer) {
		return host
	}
	hops := strings.Split(r.Header.Get("X-Forwarded-For"), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		if !isTrusted(a) {
			return a.String()
		}
	}
	return host
}

// trustedPeer reports whether the request's peer is one of the trusted
// proxies.
func trustedPeer(r *http.Request, trusted []netip.Prefix) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	for _, p := range trusted {
		if p.Contains(peer.Unmap()) {
			return true
		}
	}
	return false
}
