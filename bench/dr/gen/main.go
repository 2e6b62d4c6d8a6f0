// Command gen writes synthetic casino request logs (docs/ops/log_schema.md,
// the field order casino's logger uses) for bench/dr/run.sh: about -mb
// megabytes over -minutes minutes, with a 5xx spike that then drops, the way
// a recovering incident looks, plus a sprinkle of non-request events.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"time"
)

func main() {
	mb := flag.Int("mb", 1024, "approximate output size in MB (10^6 bytes)")
	minutes := flag.Int("minutes", 60, "minutes the logs span")
	out := flag.String("o", "-", "output file, - for stdout")
	flag.Parse()
	w := os.Stdout
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	defer bw.Flush()
	rng := rand.New(rand.NewPCG(42, 7))
	const lineLen = 330 // measured average of the lines below
	total := int64(*mb) * 1_000_000
	n := total / lineLen
	start := time.Date(2026, 11, 29, 2, 30, 0, 0, time.UTC)
	span := time.Duration(*minutes) * time.Minute
	routes := []string{"GET /api/health", "GET /api/ready", "GET /api/v1/tenants", "POST /api/v1/auth/login", "GET /api/v1/tenants/{id}"}
	paths := []string{"/api/health", "/api/ready", "/api/v1/tenants", "/api/v1/auth/login", "/api/v1/tenants/42"}
	var written int64
	buf := make([]byte, 0, 512)
	for i := int64(0); written < total; i++ {
		ts := start.Add(time.Duration(float64(span) * float64(i) / float64(n)))
		frac := float64(i) / float64(n)
		// 5xx: 1% baseline, 40% during the incident (20%-50% of the span),
		// then falling back to 0.2%.
		p5 := 0.01
		switch {
		case frac > 0.2 && frac < 0.5:
			p5 = 0.4
		case frac >= 0.5:
			p5 = 0.4 * (1 - (frac-0.5)/0.5)
			if p5 < 0.002 {
				p5 = 0.002
			}
		}
		status := 200
		if rng.Float64() < p5 {
			status = 500 + rng.IntN(4)
		} else if rng.IntN(20) == 0 {
			status = 404
		}
		r := rng.IntN(len(routes))
		dur := rng.ExpFloat64() * 8
		if status >= 500 {
			dur += 200
		}
		level := "info"
		if status >= 500 {
			level = "error"
		}
		buf = buf[:0]
		buf = fmt.Appendf(buf, `{"ts":"%s","level":"%s","event":"request","request_id":"%016x%016x","method":"%s","route":"%s","path":"%s","status_code":%d,"duration_ms":%.3f,"bytes":%d,"remote_ip":"10.0.%d.%d","user_agent":"Mozilla/5.0 (X11; Linux x86_64) casino-bench/1.0"}`,
			ts.Format(time.RFC3339Nano), level, rng.Uint64(), rng.Uint64(), routes[r][:len(routes[r])-len(paths[r])-1], routes[r], paths[r], status, dur, rng.IntN(4000), rng.IntN(256), rng.IntN(256))
		buf = append(buf, '\n')
		if i%5000 == 0 {
			buf = fmt.Appendf(buf, `{"ts":"%s","level":"warn","event":"database_unavailable","error":"dial tcp 10.0.0.5:5432: connect: connection refused"}`+"\n", ts.Format(time.RFC3339Nano))
		}
		bw.Write(buf)
		written += int64(len(buf))
	}
}
