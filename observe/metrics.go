package observe

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Label values outside the closed sets. A request's method and path are the
// client's to choose; label values must not be, or every made-up method or
// path would add a series to /metrics for good.
const (
	// OtherMethod is the method label of any method but the nine of RFC 9110
	// and PATCH.
	OtherMethod = "OTHER"
	// Unmatched is the route label (and log route) of a request no route
	// claimed: a 404, a 405, a redirect to the canonical path.
	Unmatched = "unmatched"
)

// methodLabel maps a request method to its label: itself when standard,
// OtherMethod otherwise. Methods are case-sensitive (RFC 9110 9.1), so "get"
// is OTHER too.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return OtherMethod
}

// Metrics are the request metrics served on /metrics:
// casino_http_requests_total{method,route,code} and
// casino_http_request_duration_seconds{method,route}. Every label comes from a
// closed set: methods per methodLabel, routes from the patterns of the code
// (SetRoute) or Unmatched, codes from net/http's 100-999.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// series caches the children of both vectors per label set: hashing
	// label values on every request cost more than the rest of the
	// middleware. Its keys are label values, so it is as bounded as they are.
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

// NewMetrics registers the request metrics on reg, or reuses the ones already
// registered there (the backend and the console of role all share a
// registry). reg may be nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
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

func (m *Metrics) observe(method, route string, status int, d time.Duration) {
	k := seriesKey{methodLabel(method), route, status}
	v, ok := m.series.Load(k)
	if !ok {
		v, _ = m.series.LoadOrStore(k, &series{
			requests: m.requests.WithLabelValues(k.method, route, strconv.Itoa(status)),
			duration: m.duration.WithLabelValues(k.method, route),
		})
	}
	s := v.(*series)
	s.requests.Inc()
	s.duration.Observe(d.Seconds())
}
