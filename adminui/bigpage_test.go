package adminui

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// TestAuditPageTooLargeShowsWhatFits (issue 14, finding 2): a backend
// answer over the console's limit does not fail the audit page; the client
// asks for fewer rows until the answer fits and offers "next" for the rest.
func TestAuditPageTooLargeShowsWhatFits(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 1<<20) // 1 MiB per event: 50 events are 50 MiB
	var limits []int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		limits = append(limits, limit)
		events := make([]map[string]any, limit)
		for i := range events {
			events[i] = map[string]any{"id": 1000 - i, "action": "setting.update", "after": big}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"events": events, "total": 1000, "limit": limit, "offset": 0})
	}))
	defer srv.Close()
	c, err := NewClient(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Audit(context.Background(), "tok", AuditFilter{})
	if err != nil {
		t.Fatalf("audit page over the limit: %v", err)
	}
	if len(p.Items) != 6 || p.Next != 6 || p.Total != 1000 {
		t.Errorf("got %d events, next %d, total %d; want 6, 6, 1000 (limits asked: %v)", len(p.Items), p.Next, p.Total, limits)
	}
}
