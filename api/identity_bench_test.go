package api_test

import (
	"net/http/httptest"
	"testing"

	"casino/sqlstore"
)

// BenchmarkCapabilities measures an authenticated request in-process:
//
//	go test ./api -run XXX -bench Capabilities -benchmem -cpuprofile cpu.out
func BenchmarkCapabilities(b *testing.B) {
	e := newAPIEnv(b, sqlstore.SQLite)
	tok := e.login(ownerEmail, ownerPassword)
	h := e.srv.Config.Handler
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest("GET", "/api/v1/tenants/capabilities", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}
