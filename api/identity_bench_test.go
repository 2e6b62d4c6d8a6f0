package api_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"casino/internal/testdb"
)

// BenchmarkCapabilities measures an authenticated request in-process against
// /api/health on the same server in the same run, on both engines, with
// requests in parallel (GOMAXPROCS goroutines, like a loaded server):
//
//	go test ./api -run XXX -bench Capabilities -benchmem -cpuprofile cpu.out
//
// Besides ns/op it reports cpu-ns/op, the process's user+system CPU time per
// request (getrusage), which a shared machine's load disturbs far less than
// wall time. PostgreSQL's own CPU is not in it (another process); bench/auth
// measures the whole.
func BenchmarkCapabilities(b *testing.B) {
	for _, engine := range testdb.Engines {
		b.Run(string(engine), func(b *testing.B) {
			e := newAPIEnvLogging(b, engine, logFile(b))
			tok := e.login(ownerEmail, ownerPassword)
			h := e.srv.Config.Handler
			for _, c := range []struct{ name, path, auth string }{
				{"health", "/api/health", ""},
				{"capabilities", "/api/v1/tenants/capabilities", "Bearer " + tok},
			} {
				b.Run(c.name, func(b *testing.B) {
					b.ReportAllocs()
					b.SetParallelism(32) // 64 goroutines on 2 CPUs, like wrk -c64
					cpu0 := cpuTime()
					b.RunParallel(func(pb *testing.PB) {
						req := httptest.NewRequest("GET", c.path, nil)
						if c.auth != "" {
							req.Header.Set("Authorization", c.auth)
						}
						for pb.Next() {
							w := &statusDiscard{h: http.Header{}}
							h.ServeHTTP(w, req)
							if w.status != 0 && w.status != 200 {
								b.Fatal(w.status)
							}
						}
					})
					b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
				})
			}
		})
	}
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type statusDiscard struct {
	h      http.Header
	status int
}

func (d *statusDiscard) Header() http.Header         { return d.h }
func (d *statusDiscard) Write(b []byte) (int, error) { return len(b), nil }
func (d *statusDiscard) WriteHeader(s int)           { d.status = s }

// logFile is a file for the request log, as casino serve logs to stdout: a
// test's bytes.Buffer would grow for the whole run and measure its copying.
func logFile(b *testing.B) *os.File {
	f, err := os.Create(filepath.Join(b.TempDir(), "requests.log"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	return f
}
