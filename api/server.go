// Package api is casino's JSON API over HTTP: NewServer builds the handler,
// routes.go lists every route, middleware.go holds request ids, request logs,
// metrics and panic recovery, and encode.go reads and writes JSON. Handlers
// speak casino.Error; one table maps its codes to HTTP statuses.
package api

import (
	"log/slog"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"casino"
)

// Config holds the dependencies of the API server. Nil services disable the
// routes that need them.
type Config struct {
	Logger   *slog.Logger
	Build    casino.BuildInfo
	Store    casino.StoreStatus
	Versions casino.VersionService
	// Identity and tenancy services (issue 3). With Auth nil the /api/v1
	// routes are not mounted.
	Auth     casino.AuthService
	Hasher   casino.PasswordHasher
	Tenants  casino.TenantService
	Users    casino.UserService
	Settings casino.SettingService
	Audit    casino.AuditService
	System   casino.SystemService
	// Data answers GET /api/v1/admin/data-summary (dr validate's data
	// check); nil answers 503.
	Data casino.DataSummaryService
	// Registry receives the HTTP metrics; /metrics serves Gatherer. Either
	// may be nil, in which case a private registry is used.
	Registry *prometheus.Registry
	// TrustedProxies lists the networks whose X-Forwarded-For is believed
	// when deciding a client's IP (for logs and login throttling).
	TrustedProxies []netip.Prefix
	// ReadyTimeout bounds the database ping of /api/ready (default 1 s).
	ReadyTimeout time.Duration
}

// Server is the API's http.Handler.
type Server struct {
	cfg      Config
	log      *slog.Logger
	mux      *http.ServeMux
	handler  http.Handler
	metrics  *httpMetrics
	draining atomic.Bool

	healthBody, versionBody []byte
}

// NewServer returns the API server with every route of routes.go mounted.
func NewServer(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = time.Second
	}
	s := &Server{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux()}
	s.precompute()
	s.metrics = newHTTPMetrics(cfg.Registry)
	s.routes()
	s.handler = Observe(s.log, s.metrics, cfg.TrustedProxies, http.HandlerFunc(s.dispatch))
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// SetDraining marks the server as shutting down: /api/ready answers 503 so
// load balancers stop sending traffic while in-flight requests finish.
func (s *Server) SetDraining() { s.draining.Store(true) }

// handle mounts h at pattern and records the pattern as the request's route
// for logs and metrics.
func (s *Server) handle(pattern string, h http.HandlerFunc) {
	s.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if info := infoFrom(r.Context()); info != nil {
			info.Route = pattern
		}
		h(w, r)
	}))
}

// dispatch runs the mux, answering unknown paths (404) and wrong methods (405)
// with the JSON error body instead of the mux's plain text. A request no
// route claimed leaves RequestInfo.Route empty; only then is the mux's
// answer recorded and rewritten.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request) {
	info := infoFrom(r.Context()) // always set: NewServer wraps dispatch in Observe
	uw := &info.uw
	*uw = unroutedWriter{ResponseWriter: w, info: info}
	s.mux.ServeHTTP(uw, r)
	if !uw.intercepted {
		return
	}
	rec := uw.rec
	switch rec.status {
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", rec.header.Get("Allow"))
		Error(w, r, casino.Errorf("method_not_allowed", "Method %s is not allowed on %s.", r.Method, r.URL.Path))
	case http.StatusNotFound, 0:
		Error(w, r, casino.Errorf(casino.ENOTFOUND, "No route for %s %s.", r.Method, r.URL.Path))
	default: // redirects to the canonical path
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.status)
	}
}

// unroutedWriter passes writes through once a route has claimed the request;
// before that (the mux's own 404, 405 or redirect) it records them instead.
type unroutedWriter struct {
	http.ResponseWriter
	info        *RequestInfo
	intercepted bool
	rec         headerRecorder
}

func (u *unroutedWriter) Header() http.Header {
	if u.info.Route == "" {
		if u.rec.header == nil {
			u.rec.header = http.Header{}
		}
		return u.rec.header
	}
	return u.ResponseWriter.Header()
}

func (u *unroutedWriter) WriteHeader(code int) {
	if u.info.Route == "" {
		u.intercepted = true
		u.rec.WriteHeader(code)
		return
	}
	u.ResponseWriter.WriteHeader(code)
}

func (u *unroutedWriter) Write(b []byte) (int, error) {
	if u.info.Route == "" {
		u.intercepted = true
		return u.rec.Write(b)
	}
	return u.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (u *unroutedWriter) Unwrap() http.ResponseWriter { return u.ResponseWriter }

// headerRecorder captures the status and headers the mux writes for a request
// it has no route for.
type headerRecorder struct {
	header http.Header
	status int
}

func (h *headerRecorder) Header() http.Header { return h.header }
func (h *headerRecorder) Write(b []byte) (int, error) {
	if h.status == 0 {
		h.status = http.StatusOK
	}
	return len(b), nil
}
func (h *headerRecorder) WriteHeader(code int) {
	if h.status == 0 {
		h.status = code
	}
}
