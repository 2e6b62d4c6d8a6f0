// Command bare is the peer of the HTTP benchmark: a bare net/http server that
// answers /api/health and /api/version with the same bytes casino sends,
// fetched from a running casino at start. No logging, no middleware.
package main

import (
	"flag"
	"io"
	"log"
	"net/http"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18181", "listen address")
	from := flag.String("from", "http://127.0.0.1:18180", "casino to copy the response bodies from")
	flag.Parse()
	bodies := map[string][]byte{}
	types := map[string]string{}
	for _, p := range []string{"/api/health", "/api/version"} {
		resp, err := http.Get(*from + p)
		if err != nil {
			log.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		bodies[p], types[p] = b, resp.Header.Get("Content-Type")
	}
	for p := range bodies {
		b, ct := bodies[p], types[p]
		http.HandleFunc("GET "+p, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ct)
			w.Header().Set("Cache-Control", "no-store")
			w.Write(b)
		})
	}
	log.Fatal(http.ListenAndServe(*addr, nil))
}
