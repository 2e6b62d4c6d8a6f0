package api_test

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"casino/internal/poll"
	"casino/internal/testdb"
	"casino/sqlstore"
)

// TestCapabilitiesOneRoundTrip: an authenticated request costs exactly one
// statement (the session state; nothing is cached), on both engines. On
// PostgreSQL the connection runs through a proxy that reads the protocol, so
// the round trips are counted on the wire: each Sync or simple Query the
// client sends is one trip.
func TestCapabilitiesOneRoundTrip(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		u := testdb.URL(t, engine)
		var wire *pgWireCounter
		if engine == sqlstore.Postgres {
			wire = newPGWireCounter(t, u)
			u = wire.url
		}
		db, err := sqlstore.Open(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if _, err := db.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		e := newAPIEnvDB(t, db, nil)
		tok := e.login(ownerEmail, ownerPassword)
		// The first use on a connection prepares the statement there.
		for range 3 {
			if r := e.call("GET", "/api/v1/tenants/capabilities", tok, nil); r.Status != 200 {
				t.Fatalf("capabilities: %s", r)
			}
		}
		for i := range 5 {
			s0 := db.Statements()
			var w0 pgTrips
			if wire != nil {
				w0 = wire.trips()
			}
			if r := e.call("GET", "/api/v1/tenants/capabilities", tok, nil); r.Status != 200 {
				t.Fatalf("capabilities: %s", r)
			}
			if n := db.Statements() - s0; n != 1 {
				t.Errorf("request %d: %d statements, want 1", i, n)
			}
			if wire != nil {
				// pgx pings a connection that sat idle over a second before
				// reusing it; that is the pool's, not the request's.
				if d := wire.trips().sub(w0); d.requests != 1 {
					t.Errorf("request %d: %d round trips to PostgreSQL (plus %d liveness pings), want 1", i, d.requests, d.pings)
				}
			}
		}
	})
}

// pgWireCounter is a TCP proxy in front of PostgreSQL that counts the round
// trips its clients start: every Sync (extended protocol) and every Query
// (simple protocol) message.
type pgWireCounter struct {
	url             string
	requests, pings atomic.Int64
	target          string
	wg              sync.WaitGroup
	listener        net.Listener
}

type pgTrips struct{ requests, pings int64 }

func (a pgTrips) sub(b pgTrips) pgTrips { return pgTrips{a.requests - b.requests, a.pings - b.pings} }

func (p *pgWireCounter) trips() pgTrips { return pgTrips{p.requests.Load(), p.pings.Load()} }

func newPGWireCounter(t *testing.T, dbURL string) *pgWireCounter {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pgWireCounter{target: u.Host, listener: ln}
	u.Host = ln.Addr().String()
	p.url = u.String()
	go p.accept()
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *pgWireCounter) accept() {
	for {
		c, err := p.listener.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.wg.Add(2)
		go func() { defer p.wg.Done(); io.Copy(c, s); c.Close() }()
		go func() { defer p.wg.Done(); p.client(c, s); s.Close() }()
	}
}

// client forwards the client's messages to the server, counting them. The
// startup phase has untyped messages (length, then a code); after the
// StartupMessage every message is a type byte and a length.
func (p *pgWireCounter) client(c io.Reader, s io.Writer) {
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(c, hdr[:8]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint32(hdr[:4]))
		code := binary.BigEndian.Uint32(hdr[4:8])
		body := make([]byte, n-8)
		if _, err := io.ReadFull(c, body); err != nil {
			return
		}
		if _, err := s.Write(append(hdr[:8:8], body...)); err != nil {
			return
		}
		if code != 80877103 && code != 80877104 { // not SSLRequest/GSSENCRequest: StartupMessage
			break
		}
	}
	for {
		if _, err := io.ReadFull(c, hdr[:5]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint32(hdr[1:5]))
		body := make([]byte, n-4)
		if _, err := io.ReadFull(c, body); err != nil {
			return
		}
		switch hdr[0] {
		case 'S':
			p.requests.Add(1)
		case 'Q':
			if string(body) == "-- ping\x00" {
				p.pings.Add(1)
			} else {
				p.requests.Add(1)
			}
		}
		if _, err := s.Write(append(hdr[:5:5], body...)); err != nil {
			return
		}
	}
}

// TestRevocationUnderLoad: while other requests keep the session-state
// lookups busy enough that they share batches, a token revoked by logout is
// refused on its very next request, every time, on both engines.
func TestRevocationUnderLoad(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		db := testdb.Open(t, engine)
		e := newAPIEnvDB(t, db, nil)
		busy := e.login(ownerEmail, ownerPassword)
		stop := make(chan struct{})
		var served atomic.Int64
		var wg sync.WaitGroup
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/tenants/capabilities", nil)
				req.Header.Set("Authorization", "Bearer "+busy)
				for {
					select {
					case <-stop:
						return
					default:
					}
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						continue
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode == 200 {
						served.Add(1)
					}
				}
			}()
		}
		for i := range 20 {
			tok := e.login(ownerEmail, ownerPassword)
			if r := e.call("GET", "/api/v1/tenants/capabilities", tok, nil); r.Status != 200 {
				t.Fatalf("round %d: fresh token: %s", i, r)
			}
			if r := e.call("POST", "/api/v1/auth/logout", tok, nil); r.Status != 204 {
				t.Fatalf("round %d: logout: %s", i, r)
			}
			if r := e.call("GET", "/api/v1/tenants/capabilities", tok, nil); r.Status != 401 {
				t.Fatalf("round %d: the request right after logout: got %s, want 401", i, r)
			}
		}
		// The load alone shares batches, or this test did not test them.
		s0, r0 := db.Statements(), served.Load()
		poll.Until(t, 30*time.Second, "500 requests of the load", func() bool { return served.Load()-r0 >= 500 })
		stmts, reqs := db.Statements()-s0, served.Load()-r0
		close(stop)
		wg.Wait()
		t.Logf("%d capabilities requests of the load in %d statements", reqs, stmts)
		// On PostgreSQL a lookup waits for a round trip, so 16 clients
		// always overlap; SQLite's in-process lookups rarely do, and its
		// batch statement is held to the single one by TestSessionStateBatch.
		if engine == sqlstore.Postgres && stmts >= reqs {
			t.Errorf("no batches formed: %d requests, %d statements", reqs, stmts)
		}
	})
}
