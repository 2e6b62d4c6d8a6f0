package api

import (
	"encoding/json"
	"net/http"
	"strconv"

	"casino"
)

// PutSettingRequest is the body of PUT /api/v1/settings/{key}.
type PutSettingRequest struct {
	Type  string          `json:"type"`
	Value json.RawMessage `json:"value"`
}

// SettingList is the body of GET /api/v1/settings.
type SettingList struct {
	Scope    string            `json:"scope"` // "platform" or "tenant"
	TenantID *int64            `json:"tenant_id"`
	Settings []*casino.Setting `json:"settings"`
}

// settingScope decides the scope of a settings call: ?tenant_id=N names a
// tenant (the store refuses other tenants' ids for a tenant admin); without
// it the owner addresses the platform and a tenant admin their own tenant.
func settingScope(r *http.Request) (casino.SettingScope, error) {
	id := casino.IdentityFromContext(r.Context())
	v := r.URL.Query().Get("tenant_id")
	if v == "" {
		if id.IsOwner() {
			return casino.SettingScope{}, nil
		}
		return casino.SettingScope{TenantID: id.TenantID}, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return casino.SettingScope{}, &casino.Error{Code: casino.EINVALID, Message: "Query parameter tenant_id must be a tenant id.", Fields: map[string]string{"tenant_id": "must be a tenant id"}}
	}
	return casino.SettingScope{TenantID: n}, nil
}

func (s *Server) handleListSettings(w http.ResponseWriter, r *http.Request) {
	scope, err := settingScope(r)
	if err != nil {
		Error(w, r, err)
		return
	}
	list, err := s.cfg.Settings.FindSettings(r.Context(), scope)
	if err != nil {
		Error(w, r, err)
		return
	}
	out := SettingList{Scope: "platform", Settings: list}
	if scope.TenantID != 0 {
		t := scope.TenantID
		out.Scope, out.TenantID = "tenant", &t
	}
	JSON(w, http.StatusOK, out)
}

func (s *Server) handleGetSetting(w http.ResponseWriter, r *http.Request) {
	scope, err := settingScope(r)
	if err != nil {
		Error(w, r, err)
		return
	}
	set, err := s.cfg.Settings.FindSetting(r.Context(), scope, r.PathValue("key"))
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, set)
}

func (s *Server) handlePutSetting(w http.ResponseWriter, r *http.Request) {
	scope, err := settingScope(r)
	if err != nil {
		Error(w, r, err)
		return
	}
	var req PutSettingRequest
	if err := Decode(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	set, err := s.cfg.Settings.PutSetting(r.Context(), scope, &casino.Setting{Key: r.PathValue("key"), Type: req.Type, Value: req.Value})
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, set)
}
