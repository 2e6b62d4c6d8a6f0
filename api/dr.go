package api

import (
	"io"
	"net/http"

	"casino"
)

// handleDRStatus answers the DR readiness status (owner only): backups'
// age against the RPO, the last drill, the drill trend, open incidents.
func (s *Server) handleDRStatus(w http.ResponseWriter, r *http.Request) {
	if err := require(r.Context(), casino.CapAdminDR); err != nil {
		Error(w, r, err)
		return
	}
	if s.cfg.DR == nil {
		Error(w, r, casino.Errorf(casino.EUNAVAILABLE, "The DR readiness status is not available on this server."))
		return
	}
	st, err := s.cfg.DR.DRStatus(r.Context())
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, st)
}

// handleDrillProof serves a drill's proof (owner only) as plain text: the
// proof is Markdown written from journaled data, and plain text with
// nosniff means a browser never renders anything in it as HTML.
func (s *Server) handleDrillProof(w http.ResponseWriter, r *http.Request) {
	if err := require(r.Context(), casino.CapAdminDR); err != nil {
		Error(w, r, err)
		return
	}
	if s.cfg.DR == nil {
		Error(w, r, casino.Errorf(casino.EUNAVAILABLE, "Drill proofs are not available on this server."))
		return
	}
	rc, err := s.cfg.DR.DrillProof(r.Context(), r.PathValue("id"))
	if err != nil {
		Error(w, r, err)
		return
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		Error(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}
