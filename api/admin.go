package api

import (
	"net/http"

	"casino"
)

// SwitchRequest is the body of POST /api/v1/admin/login-freeze and
// POST /api/v1/admin/maintenance.
type SwitchRequest struct {
	Enabled *bool  `json:"enabled"`
	Reason  string `json:"reason"`
}

func (s *Server) handleAdminStatus(w http.ResponseWriter, r *http.Request) {
	st, err := s.cfg.System.SystemStatus(r.Context())
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, st)
}

// handleSwitch answers a switch change: the login freeze or maintenance.
func (s *Server) handleSwitch(capability string, set func(r *http.Request, on bool, reason string) (*casino.Switch, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := require(r.Context(), capability); err != nil {
			Error(w, r, err)
			return
		}
		var req SwitchRequest
		if err := Decode(w, r, &req); err != nil {
			Error(w, r, err)
			return
		}
		if req.Enabled == nil {
			Error(w, r, &casino.Error{Code: casino.EINVALID, Message: "Field \"enabled\" is required.", Fields: map[string]string{"enabled": "is required (true or false)"}})
			return
		}
		sw, err := set(r, *req.Enabled, req.Reason)
		if err != nil {
			Error(w, r, err)
			return
		}
		JSON(w, http.StatusOK, sw)
	}
}

func (s *Server) setLoginFreeze(r *http.Request, on bool, reason string) (*casino.Switch, error) {
	return s.cfg.System.SetLoginFreeze(r.Context(), on, reason)
}

func (s *Server) setMaintenance(r *http.Request, on bool, reason string) (*casino.Switch, error) {
	return s.cfg.System.SetMaintenance(r.Context(), on, reason)
}

// handleDataSummary answers which data the service runs on: the restore
// mark, per-table row counts and the database's identity (owner only).
func (s *Server) handleDataSummary(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Data == nil {
		Error(w, r, casino.Errorf(casino.EUNAVAILABLE, "The data summary is not available on this server."))
		return
	}
	sum, err := s.cfg.Data.DataSummary(r.Context())
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, sum)
}
