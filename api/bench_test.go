package api_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"casino"
	"casino/api"
	"casino/internal/testdb"
	"casino/logging"
	"casino/sqlstore"
)

// BenchmarkHandler measures the API's per-request overhead in-process (no
// network) against a bare handler writing the same bytes:
//
//	go test ./api -run XXX -bench Handler -benchmem
func BenchmarkHandler(b *testing.B) {
	db := testdb.Open(b, sqlstore.SQLite)
	// The request log goes to a file, as casino serve's stdout.
	srv := api.NewServer(api.Config{Logger: logging.New(logFile(b), 0), Build: casino.Build(), Store: db})
	for _, path := range []string{"/api/health", "/api/version"} {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		body, ct := rec.Body.Bytes(), rec.Header().Get("Content-Type")
		bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ct)
			w.Header().Set("Cache-Control", "no-store")
			w.Write(body)
		})
		for name, h := range map[string]http.Handler{"casino": srv, "bare": bare} {
			b.Run(path[5:]+"/"+name, func(b *testing.B) {
				req := httptest.NewRequest("GET", path, nil)
				req.Header.Set("User-Agent", "wrk")
				b.ReportAllocs()
				cpu0 := cpuTime()
				for b.Loop() {
					w := &discardWriter{h: http.Header{}}
					h.ServeHTTP(w, req)
				}
				b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}
