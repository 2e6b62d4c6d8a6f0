// Command load is the write load of bench/pitr/run.sh: it creates tenants
// through casino serve's API as fast as -c workers can, and logs each
// acknowledged write (slug and the instant its 201 arrived). With -rpo it
// instead reads a restored database and reports the RPO actually achieved:
// the newest acknowledged write minus the newest write the restored
// database holds. Not a test: it measures.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"casino/sqlstore"
)

func main() {
	url := flag.String("url", "", "casino serve base URL")
	password := flag.String("password", "", "owner password")
	workers := flag.Int("c", 4, "concurrent writers")
	dur := flag.Duration("d", 10*time.Second, "how long to write")
	logPath := flag.String("log", "", "append acknowledged writes here: slug unix_nanos")
	prefix := flag.String("prefix", "bench", "slug prefix")
	rpoDB := flag.String("rpo", "", "database URL of a restored copy: report the RPO against -log")
	flag.Parse()
	if *rpoDB != "" {
		if err := rpo(*rpoDB, *logPath); err != nil {
			fmt.Fprintln(os.Stderr, "load:", err)
			os.Exit(1)
		}
		return
	}
	if err := write(*url, *password, *workers, *dur, *logPath, *prefix); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func write(base, password string, workers int, dur time.Duration, logPath, prefix string) error {
	b, _ := json.Marshal(map[string]string{"email": "admin@casino.com", "password": password})
	resp, err := http.Post(base+"/api/v1/auth/login", "application/json", bytes.NewReader(b))
	if err != nil {
		return err
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if tok.AccessToken == "" {
		return fmt.Errorf("login: %d", resp.StatusCode)
	}
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	var mu sync.Mutex
	w := bufio.NewWriter(f)
	defer w.Flush()
	var n, failed atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; ctx.Err() == nil; j++ {
				slug := fmt.Sprintf("%s-%d-%d", prefix, i, j)
				body, _ := json.Marshal(map[string]string{"name": slug, "slug": slug})
				req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/tenants", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
				resp, err := c.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
					failed.Add(1)
					continue
				}
				at := time.Now().UnixNano()
				n.Add(1)
				mu.Lock()
				fmt.Fprintf(w, "%s %d\n", slug, at)
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	fmt.Printf("writes %d failed %d seconds %.2f rps %.1f\n", n.Load(), failed.Load(), el, float64(n.Load())/el)
	return nil
}

func rpo(dbURL, logPath string) error {
	f, err := os.Open(logPath)
	if err != nil {
		return err
	}
	defer f.Close()
	acked := map[string]int64{}
	var newest int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		slug, ns, _ := strings.Cut(sc.Text(), " ")
		v, _ := strconv.ParseInt(ns, 10, 64)
		acked[slug] = v
		newest = max(newest, v)
	}
	db, err := sqlstore.Open(context.Background(), dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.QueryContext(context.Background(), "SELECT slug FROM tenants")
	if err != nil {
		return err
	}
	defer rows.Close()
	var recovered int64
	n := 0
	for rows.Next() {
		var s string
		rows.Scan(&s)
		if v, ok := acked[s]; ok {
			n++
			recovered = max(recovered, v)
		}
	}
	lost := 0
	for _, v := range acked {
		if v > recovered {
			lost++
		}
	}
	fmt.Printf("acknowledged %d recovered %d lost_after_newest_recovered %d rpo_seconds %.3f\n", len(acked), n, lost, float64(newest-recovered)/1e9)
	return nil
}
