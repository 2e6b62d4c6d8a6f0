package api

import "casino"

// routes lists every route of the API. Keep it the one place to look.
func (s *Server) routes() {
	// Probes and build info: no authentication, never cached.
	s.handle("GET /api/health", s.handleHealth)
	s.handle("GET /api/ready", s.handleReady)
	s.handle("GET /api/version", s.handleVersion)
	s.handle("GET /metrics", s.handleMetrics)

	// Identity and tenancy (docs/api.md). Every route but login needs a
	// Bearer token; tenant-scoped data is scoped by the token's identity.
	if s.cfg.Auth == nil {
		return
	}
	s.handle("POST /api/v1/auth/login", s.public(s.handleLogin))
	s.handle("POST /api/v1/auth/logout", s.authed(s.handleLogout, duringMaintenance))
	s.handle("GET /api/v1/tenants/capabilities", s.authed(s.handleCapabilities))

	s.handle("GET /api/v1/tenants", s.authed(s.handleListTenants))
	s.handle("POST /api/v1/tenants", s.authed(s.handleCreateTenant))
	s.handle("GET /api/v1/tenants/{id}", s.authed(s.handleGetTenant))
	s.handle("PATCH /api/v1/tenants/{id}", s.authed(s.handlePatchTenant))
	s.handle("GET /api/v1/tenants/{id}/admins", s.authed(s.handleListAdmins))
	s.handle("POST /api/v1/tenants/{id}/admins", s.authed(s.handleCreateAdmin))

	s.handle("GET /api/v1/settings", s.authed(s.handleListSettings))
	s.handle("GET /api/v1/settings/{key}", s.authed(s.handleGetSetting))
	s.handle("PUT /api/v1/settings/{key}", s.authed(s.handlePutSetting))

	s.handle("GET /api/v1/versions", s.authed(s.handleListVersions))
	s.handle("GET /api/v1/audit", s.authed(s.handleListAudit))
	s.handle("GET /api/v1/audit/{id}", s.authed(s.handleGetAudit))

	s.handle("GET /api/v1/admin/status", s.authed(s.handleAdminStatus))
	s.handle("GET /api/v1/admin/ready", s.authed(s.handleAdminReady))
	s.handle("GET /api/v1/admin/data-summary", s.authed(s.handleDataSummary))
	s.handle("GET /api/v1/admin/dr-status", s.authed(s.handleDRStatus))
	s.handle("GET /api/v1/admin/drills/{id}/proof", s.authed(s.handleDrillProof))
	s.handle("POST /api/v1/admin/login-freeze", s.authed(s.handleSwitch(casino.CapAdminLoginFreeze, s.setLoginFreeze), duringMaintenance))
	s.handle("POST /api/v1/admin/maintenance", s.authed(s.handleSwitch(casino.CapAdminMaintenance, s.setMaintenance), duringMaintenance))
}
