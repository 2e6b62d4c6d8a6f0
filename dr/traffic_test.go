package dr

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestWaitServing: ready and the expected version are waited for; a wrong
// version times out naming it; and a process that exited fails even while
// another server answers on the port (the answer is not its).
func TestWaitServing(t *testing.T) {
	var readyAfter atomic.Int32
	readyAfter.Store(3)
	var ids atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", fmt.Sprintf("id-%d", ids.Add(1)))
		switch r.URL.Path {
		case "/api/ready":
			if readyAfter.Add(-1) >= 0 {
				http.Error(w, `{"status":"starting"}`, http.StatusServiceUnavailable)
				return
			}
			w.Write([]byte(`{"status":"ok"}`))
		case "/api/version":
			w.Write([]byte(`{"version":"1.4.2"}`))
		}
	}))
	defer srv.Close()
	ctx := context.Background()

	var sent []string
	out, err := waitServing(ctx, srv.URL, "1.4.2", 10*time.Second, nil, &sent)
	if err != nil || out.ExitCode != 0 || !strings.Contains(out.Stdout, "/api/ready 200, version 1.4.2") {
		t.Fatalf("waitServing: %v %+v", err, out)
	}
	if len(sent) < 4 { // three 503s, a 200, the version
		t.Errorf("sent ids %q: want every answered request's id", sent)
	}

	_, err = waitServing(ctx, srv.URL, "1.4.1", 300*time.Millisecond, nil, nil)
	if !errors.Is(err, ErrNotReady) || !strings.Contains(err.Error(), `version "1.4.2", expected "1.4.1"`) {
		t.Errorf("wrong version: %v", err)
	}

	exited := make(chan error, 1)
	exited <- errors.New("exit status 1")
	_, err = waitServing(ctx, srv.URL, "", 10*time.Second, exited, nil)
	if !errors.Is(err, ErrDiedAtStart) {
		t.Errorf("a dead process with another server on the port: %v, want ErrDiedAtStart", err)
	}
}

// TestRestoreTrafficKubernetesWaitsOnURL: with a URL, kubernetes traffic is
// also waited on there, after the rollouts.
func TestRestoreTrafficKubernetesWaitsOnURL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"version":"2.0.0"}`))
	}))
	defer srv.Close()
	two := 2
	st := PlatformState{Platform: "kubernetes", Namespace: "prod", Components: []ComponentState{{Name: "frontend-admin", Replicas: new(int)}, {Name: "backend", Replicas: &two}}}
	var ran []string
	run := func(ctx context.Context, argv []string) Output {
		ran = append(ran, strings.Join(argv, " "))
		return Output{Argv: argv}
	}
	outs, err := RestoreTraffic(context.Background(), st, "x", TrafficOptions{Run: run, URL: srv.URL, Version: "2.0.0", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"kubectl -n prod scale deploy/backend --replicas=2",
		"kubectl -n prod scale deploy/frontend-admin --replicas=0",
		"kubectl -n prod rollout status deploy/backend --timeout=5s",
	}
	if strings.Join(ran, "\n") != strings.Join(want, "\n") {
		t.Fatalf("ran:\n%s\nwant:\n%s", strings.Join(ran, "\n"), strings.Join(want, "\n"))
	}
	if last := outs[len(outs)-1]; last.Argv[0] != "GET" || !strings.Contains(last.Stdout, "version 2.0.0") {
		t.Errorf("last output %+v: want the ready and version wait", last)
	}
}
