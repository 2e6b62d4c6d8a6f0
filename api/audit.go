package api

import (
	"net/http"
	"strconv"
	"time"

	"casino"
)

// AuditList is the body of GET /api/v1/audit.
type AuditList struct {
	Events []*casino.AuditEvent `json:"events"`
	Total  int                  `json:"total"`
	Limit  int                  `json:"limit"`
	Offset int                  `json:"offset"`
}

func (s *Server) handleListAudit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := casino.AuditFilter{Action: q.Get("action")}
	bad := map[string]string{}
	var err error
	if f.Limit, err = queryInt(q, "limit", 100, 500); err != nil {
		bad["limit"] = "must be an integer from 0 to 500"
	}
	if f.Offset, err = queryInt(q, "offset", 0, 0); err != nil {
		bad["offset"] = "must be a non-negative integer"
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				bad[p.name] = "must be an RFC 3339 time like 2026-11-29T03:00:00Z"
			}
			*p.dst = t
		}
	}
	if v := q.Get("tenant_id"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			bad["tenant_id"] = "must be a tenant id"
		}
		f.TenantID = n
	}
	if len(bad) > 0 {
		Error(w, r, &casino.Error{Code: casino.EINVALID, Message: "Some query parameters are invalid.", Fields: bad})
		return
	}
	if f.Limit == 0 {
		f.Limit = 100
	}
	events, total, err := s.cfg.Audit.FindAuditEvents(r.Context(), f)
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, AuditList{Events: events, Total: total, Limit: f.Limit, Offset: f.Offset})
}

func (s *Server) handleGetAudit(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		Error(w, r, casino.Errorf(casino.ENOTFOUND, "Audit event %q not found.", r.PathValue("id")))
		return
	}
	ev, err := s.cfg.Audit.FindAuditEvent(r.Context(), id)
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, ev)
}
