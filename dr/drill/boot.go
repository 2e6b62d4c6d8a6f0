package drill

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"casino"
	"casino/adminui"
	"casino/api"
	"casino/auth"
	"casino/observe"
	"casino/sqlstore"
)

// instance is casino (backend API and frontend-admin, as 'serve --role all'
// wires them) running in this process against the restored copy, on a free
// loopback port. It is built so that it cannot reach production: its
// metrics go to a private registry, its token key lives in memory only, it
// runs no backup scheduler and takes no backup lock, and the only database
// it opens is the copy.
type instance struct {
	URL      string
	Email    string
	Password string // one-time, set on the copy's owner only
	db       *sqlstore.DB
	srv      *http.Server
	done     chan error
}

// bootInstance sets a random one-time password on the copy's owner and
// starts casino on the copy. The password exists only in the copy and in
// this process's memory: the drill needs none of production's secrets.
func bootInstance(ctx context.Context, scratchURL string, hc *auth.HasherConfig, logger *slog.Logger) (*instance, error) {
	db, err := sqlstore.Open(ctx, scratchURL)
	if err != nil {
		return nil, fmt.Errorf("open the restored copy: %w", err)
	}
	in := &instance{db: db}
	ok := false
	defer func() {
		if !ok {
			db.Close()
		}
	}()
	if err := db.CheckSchema(ctx); err != nil {
		return nil, fmt.Errorf("the restored copy's schema: %w", err)
	}
	cfg := auth.HasherConfig{Params: auth.DefaultParams}
	if hc != nil {
		cfg = *hc
	}
	hasher, err := auth.NewHasher(cfg)
	if err != nil {
		return nil, err
	}
	owner, err := db.FindOwner(ctx)
	if err != nil {
		return nil, fmt.Errorf("the restored copy has no owner account to log in with (%s)", casino.ErrorMessage(err))
	}
	in.Email, in.Password = owner.Email, auth.GeneratePassword(32)
	hash, err := hasher.Hash(ctx, in.Password)
	if err != nil {
		return nil, err
	}
	if err := db.UpdatePasswordHash(ctx, owner.ID, hash); err != nil {
		return nil, fmt.Errorf("set the one-time owner password in the copy: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	tokens, err := auth.NewTokens(key, 15*time.Minute)
	if err != nil {
		return nil, err
	}
	// A private registry: nothing the drill instance measures reaches
	// production's /metrics.
	reg := prometheus.NewRegistry()
	backend := api.NewServer(api.Config{
		Logger: logger, Build: casino.Build(), Store: db, Versions: db, Registry: reg,
		Auth:   auth.NewService(db, hasher, tokens, auth.DefaultThrottle, logger),
		Hasher: hasher, Tenants: db, Users: db, Settings: db, Audit: db, System: db, Data: db,
	})
	client, err := adminui.NewClient("http://backend.in-process", adminui.HandlerTransport(backend))
	if err != nil {
		return nil, err
	}
	ui, err := adminui.New(adminui.Config{Client: client, Logger: logger, Build: casino.Build(), SecureCookie: adminui.SecureNever})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", backend)
	mux.Handle("/metrics", backend)
	mux.Handle("/", observe.Middleware(logger, observe.NewMetrics(reg), nil, ui))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen on loopback: %w", err)
	}
	in.URL = "http://" + ln.Addr().String()
	in.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	in.done = make(chan error, 1)
	go func() { in.done <- in.srv.Serve(ln) }()
	ok = true
	return in, nil
}

// waitReady polls /api/ready until it answers 200, ctx ends or the server
// stops.
func (in *instance) waitReady(ctx context.Context) error {
	c := &http.Client{Timeout: 2 * time.Second}
	var last string
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, in.URL+"/api/ready", nil)
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the drill instance was not ready (last answer: %s): %w", last, ctx.Err())
		case err := <-in.done:
			return fmt.Errorf("the drill instance stopped: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop shuts the instance down and closes its connections to the copy, so
// the copy can be dropped.
func (in *instance) stop() error {
	if in == nil {
		return nil
	}
	var err error
	if in.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = in.srv.Shutdown(ctx)
		cancel()
		if e := <-in.done; e != nil && !errors.Is(e, http.ErrServerClosed) && err == nil {
			err = e
		}
	}
	if e := in.db.Close(); err == nil {
		err = e
	}
	return err
}
