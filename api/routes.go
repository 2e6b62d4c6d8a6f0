package api

// routes lists every route of the API. Keep it the one place to look.
func (s *Server) routes() {
	// Probes and build info: no authentication, never cached.
	s.handle("GET /api/health", s.handleHealth)
	s.handle("GET /api/ready", s.handleReady)
	s.handle("GET /api/version", s.handleVersion)
	s.handle("GET /metrics", s.handleMetrics)
}
