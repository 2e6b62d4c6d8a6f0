package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"casino"
	"casino/logging"
)

// RequestInfo is what the middleware learns about a request as it passes
// through the layers; the request log line is written from it.
type RequestInfo struct {
	ID       string
	Route    string
	RemoteIP string
	TenantID int64 // 0 when unknown
	UserID   int64 // 0 when unknown
	Err      error // internal error, logged but never sent

	// Per-request scratch that would otherwise be allocated separately
	// on the hot path: the response writer wrappers and the header value.
	sw    statusWriter
	uw    unroutedWriter
	idHdr [1]string
}

type infoKey struct{}

func infoFrom(ctx context.Context) *RequestInfo {
	info, _ := ctx.Value(infoKey{}).(*RequestInfo)
	return info
}

// RequestID returns the id of the request being served, "" outside one.
func RequestID(ctx context.Context) string {
	if info := infoFrom(ctx); info != nil {
		return info.ID
	}
	return ""
}

// ClientIP returns the client address decided by the middleware.
func ClientIP(ctx context.Context) string {
	if info := infoFrom(ctx); info != nil {
		return info.RemoteIP
	}
	return ""
}

// SetRoute records the route pattern of the request for its log line and
// metrics. The frontend-admin UI, which has its own mux under Observe, uses
// it; the API's own routes get it from Server.handle.
func SetRoute(ctx context.Context, pattern string) {
	if info := infoFrom(ctx); info != nil {
		info.Route = pattern
	}
}

// SetIdentity records the authenticated user and tenant for the request log.
func SetIdentity(ctx context.Context, userID, tenantID int64) {
	if info := infoFrom(ctx); info != nil {
		info.UserID, info.TenantID = userID, tenantID
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
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// clientIP is the peer address, or the right-most untrusted X-Forwarded-For
// entry when the peer is a trusted proxy.
func clientIP(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || len(trusted) == 0 {
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

// Observe wraps next with what every request gets: a request id (honoured
// from X-Request-ID when valid, echoed back), panic recovery, one JSON log line
// under the docs/ops/log_schema.md contract, and Prometheus metrics. The
// frontend-admin role wraps its handler with it too.
func Observe(logger *slog.Logger, m *httpMetrics, trusted []netip.Prefix, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &RequestInfo{ID: r.Header.Get("X-Request-ID"), RemoteIP: clientIP(r, trusted)} // one allocation for all per-request state
		if !validRequestID(info.ID) {
			info.ID = NewRequestID()
		}
		info.idHdr[0] = info.ID
		w.Header()["X-Request-Id"] = info.idHdr[:] // canonical key, no re-canonicalising on the hot path
		r = r.WithContext(context.WithValue(r.Context(), infoKey{}, info))
		sw := &info.sw
		sw.ResponseWriter = w

		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				info.Err = fmt.Errorf("panic: %v", p)
				if !sw.wrote {
					Error(sw, r, casino.Errorf(casino.EINTERNAL, "Internal error."))
				}
			}
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			elapsed := time.Since(start)
			route := info.Route
			if route == "" {
				route = "unmatched"
			}
			if m != nil {
				m.observe(r.Method, route, status, elapsed)
			}
			rec := logging.Request{
				ID:         info.ID,
				Method:     r.Method,
				Route:      route,
				Path:       r.URL.Path,
				StatusCode: status,
				Duration:   elapsed,
				Bytes:      sw.bytes,
				RemoteIP:   info.RemoteIP,
				UserAgent:  r.UserAgent(),
				TenantID:   info.TenantID,
				UserID:     info.UserID,
			}
			if info.Err != nil {
				rec.Error = info.Err.Error()
			}
			if h, ok := logger.Handler().(*logging.Handler); ok {
				h.WriteRequest(r.Context(), &rec)
			} else {
				logRequestSlog(r.Context(), logger, &rec)
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// logRequestSlog writes the request line through any slog handler (the
// fast path of logging.Handler writes the same fields).
func logRequestSlog(ctx context.Context, logger *slog.Logger, r *logging.Request) {
	level := slog.LevelInfo
	if r.StatusCode >= 500 {
		level = slog.LevelError
	}
	attrs := []slog.Attr{
		slog.String(logging.FieldRequestID, r.ID),
		slog.String(logging.FieldMethod, r.Method),
		slog.String(logging.FieldRoute, r.Route),
		slog.String(logging.FieldPath, r.Path),
		slog.Int(logging.FieldStatusCode, r.StatusCode),
		slog.Float64(logging.FieldDurationMS, float64(r.Duration.Microseconds())/1000),
		slog.Int64(logging.FieldBytes, r.Bytes),
		slog.String(logging.FieldRemoteIP, r.RemoteIP),
		slog.String(logging.FieldUserAgent, r.UserAgent),
	}
	if r.TenantID != 0 {
		attrs = append(attrs, slog.Int64(logging.FieldTenantID, r.TenantID))
	}
	if r.UserID != 0 {
		attrs = append(attrs, slog.Int64(logging.FieldUserID, r.UserID))
	}
	if r.Error != "" {
		attrs = append(attrs, slog.String(logging.FieldError, r.Error))
	}
	logger.LogAttrs(ctx, level, logging.EventRequest, attrs...)
}

// statusWriter records the status and the bytes written.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// httpMetrics are the request metrics served on /metrics.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// series caches the children of both vectors per label set: hashing
	// label values on every request cost more than the rest of the
	// middleware.
	series sync.Map // seriesKey -> *series
}

type seriesKey struct {
	method, route string
	code          int
}

type series struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// NewHTTPMetrics registers the request metrics on reg.
func NewHTTPMetrics(reg prometheus.Registerer) *httpMetrics { return newHTTPMetrics(reg) }

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "casino_http_requests_total",
			Help: "HTTP requests by method, route pattern and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "casino_http_request_duration_seconds",
			Help:    "HTTP request duration by method and route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.requests, m.duration} {
			if err := reg.Register(c); err != nil {
				if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
					switch c {
					case m.requests:
						m.requests = are.ExistingCollector.(*prometheus.CounterVec)
					case m.duration:
						m.duration = are.ExistingCollector.(*prometheus.HistogramVec)
					}
				}
			}
		}
	}
	return m
}

func (m *httpMetrics) observe(method, route string, status int, d time.Duration) {
	k := seriesKey{method, route, status}
	v, ok := m.series.Load(k)
	if !ok {
		v, _ = m.series.LoadOrStore(k, &series{
			requests: m.requests.WithLabelValues(method, route, strconv.Itoa(status)),
			duration: m.duration.WithLabelValues(method, route),
		})
	}
	s := v.(*series)
	s.requests.Inc()
	s.duration.Observe(d.Seconds())
}
