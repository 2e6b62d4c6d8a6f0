// Package api is casino's JSON API over HTTP: NewServer builds the handler,
// routes.go lists every route, encode.go reads and writes JSON, and package
// observe wraps it all with request ids, request logs, metrics and panic
// recovery. Handlers
// speak casino.Error; one table maps its codes to HTTP statuses.
package api

import (
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"casino"
	"casino/observe"
)

// Config holds the dependencies of the API server. Logger, Registry and
// ReadyTimeout have defaults. With Store nil, /api/ready checks nothing but
// shutdown and /api/version names no database. With Auth nil, only the probes
// and /metrics are mounted; with Auth set, every /api/v1 route is mounted and
// each service below must be set.
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
	// DR answers GET /api/v1/admin/dr-status and serves drill proofs
	// (owner only); nil answers 503.
	DR casino.DRStatusService
	// Registry receives the HTTP metrics and /metrics serves it; nil means
	// a private registry.
	Registry *prometheus.Registry
	// TrustedProxies lists the networks whose X-Forwarded-For is believed
	// when deciding a client's IP (for logs and login throttling).
	TrustedProxies []netip.Prefix
	// ReadyTimeout bounds the database ping of /api/ready (default 1 s).
	ReadyTimeout time.Duration
}

// Server is the API's http.Handler.
type Server struct {
	cfg Config
	log *slog.Logger
	mux *http.ServeMux
	// exact maps the path of each GET route without wildcards to its
	// handler, so the probes and the console's frequent reads skip the
	// mux's matching (see dispatch).
	exact    map[string]http.HandlerFunc
	handler  http.Handler
	metrics  *observe.Metrics
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
	s := &Server{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(), exact: map[string]http.HandlerFunc{}}
	s.precompute()
	s.metrics = observe.NewMetrics(cfg.Registry)
	s.routes()
	s.handler = observe.Middleware(s.log, s.metrics, cfg.TrustedProxies, http.HandlerFunc(s.dispatch))
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
	routed := func(w http.ResponseWriter, r *http.Request) {
		observe.SetRoute(r.Context(), pattern)
		h(w, r)
	}
	s.mux.HandleFunc(pattern, routed)
	if path, ok := strings.CutPrefix(pattern, "GET "); ok && !strings.ContainsAny(path, "{}") && !strings.HasSuffix(path, "/") {
		s.exact[path] = func(w http.ResponseWriter, r *http.Request) {
			r.Pattern = pattern // as the mux would set it
			routed(w, r)
		}
	}
}

// dispatch runs the mux, answering unknown paths (404) and wrong methods (405)
// with the JSON error body instead of the mux's plain text. A request no
// route claimed (see handle) is the only one whose answer is rewritten.
//
// A GET of exactly the path of a GET route without wildcards is the route's
// for the mux too (a clean path, no host patterns here), so it goes to the
// route's handler without the mux's matching.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.RawPath == "" { // RawPath: an escaped "/" is no separator for the mux
		if h := s.exact[r.URL.Path]; h != nil {
			h(w, r)
			return
		}
	}
	rec, unrouted := observe.ServeMux(s.mux, w, r)
	if !unrouted {
		return
	}
	switch rec.Status {
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", rec.Header.Get("Allow"))
		Error(w, r, casino.Errorf("method_not_allowed", "Method %s is not allowed on %s.", r.Method, r.URL.Path))
	case http.StatusNotFound, 0:
		Error(w, r, casino.Errorf(casino.ENOTFOUND, "No route for %s %s.", r.Method, r.URL.Path))
	default: // redirects to the canonical path
		for k, v := range rec.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Status)
	}
}
