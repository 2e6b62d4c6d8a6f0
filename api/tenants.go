package api

import (
	"net/http"
	"net/url"
	"strconv"

	"casino"
)

// CreateTenantRequest is the body of POST /api/v1/tenants.
type CreateTenantRequest struct {
	Name string `json:"name"`
	Slug string `json:"slug"`
}

// CreateAdminRequest is the body of POST /api/v1/tenants/{id}/admins.
type CreateAdminRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// TenantList is the body of GET /api/v1/tenants.
type TenantList struct {
	Tenants []*casino.Tenant `json:"tenants"`
	Total   int              `json:"total"`
	Limit   int              `json:"limit"`
	Offset  int              `json:"offset"`
}

// pathID parses the {id} path value; a malformed id is simply not found.
func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, casino.Errorf(casino.ENOTFOUND, "Tenant %q not found.", r.PathValue("id"))
	}
	return id, nil
}

// queryInt reads an optional non-negative integer query parameter.
func queryInt(q url.Values, name string, def, max int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || (max > 0 && n > max) {
		msg := "must be a non-negative integer"
		if max > 0 {
			msg = "must be an integer from 0 to " + strconv.Itoa(max)
		}
		return 0, &casino.Error{Code: casino.EINVALID, Message: "Query parameter " + name + " " + msg + ".", Fields: map[string]string{name: msg}}
	}
	return n, nil
}

func (s *Server) handleListTenants(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := queryInt(q, "limit", 50, 200)
	if err != nil {
		Error(w, r, err)
		return
	}
	offset, err := queryInt(q, "offset", 0, 0)
	if err != nil {
		Error(w, r, err)
		return
	}
	if limit == 0 {
		limit = 50
	}
	ts, total, err := s.cfg.Tenants.FindTenants(r.Context(), casino.TenantFilter{Limit: limit, Offset: offset})
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, TenantList{Tenants: ts, Total: total, Limit: limit, Offset: offset})
}

func (s *Server) handleCreateTenant(w http.ResponseWriter, r *http.Request) {
	if err := require(r.Context(), casino.CapTenantsCreate); err != nil {
		Error(w, r, err)
		return
	}
	var req CreateTenantRequest
	if err := Decode(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	t := &casino.Tenant{Name: req.Name, Slug: req.Slug}
	if err := s.cfg.Tenants.CreateTenant(r.Context(), t); err != nil {
		Error(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/tenants/"+strconv.FormatInt(t.ID, 10))
	JSON(w, http.StatusCreated, t)
}

func (s *Server) handleGetTenant(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		Error(w, r, err)
		return
	}
	t, err := s.cfg.Tenants.FindTenantByID(r.Context(), id)
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, t)
}

func (s *Server) handlePatchTenant(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		Error(w, r, err)
		return
	}
	if err := casino.Authorize(r.Context(), casino.CapTenantsUpdate, id); err != nil {
		Error(w, r, err)
		return
	}
	var upd casino.TenantUpdate
	if err := Decode(w, r, &upd); err != nil {
		Error(w, r, err)
		return
	}
	t, err := s.cfg.Tenants.UpdateTenant(r.Context(), id, upd)
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, t)
}

func (s *Server) handleCreateAdmin(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		Error(w, r, err)
		return
	}
	// Refuse before spending a hash on a caller who may not do this.
	if err := casino.Authorize(r.Context(), casino.CapTenantAdminsCreate, id); err != nil {
		Error(w, r, err)
		return
	}
	var req CreateAdminRequest
	if err := Decode(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	if err := casino.ValidateNewAdmin(req.Email, req.Password); err != nil {
		Error(w, r, err)
		return
	}
	if _, err := s.cfg.Tenants.FindTenantByID(r.Context(), id); err != nil {
		Error(w, r, err)
		return
	}
	hash, err := s.cfg.Hasher.Hash(r.Context(), req.Password)
	if err != nil {
		Error(w, r, err)
		return
	}
	u, err := s.cfg.Users.CreateTenantAdmin(r.Context(), id, req.Email, hash)
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusCreated, u)
}

func (s *Server) handleListAdmins(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		Error(w, r, err)
		return
	}
	us, err := s.cfg.Users.FindTenantAdmins(r.Context(), id)
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, map[string]any{"admins": us})
}
