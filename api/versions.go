package api

import (
	"net/http"

	"casino"
)

// VersionList is the body of GET /api/v1/versions.
type VersionList struct {
	Current  casino.BuildInfo       `json:"current"`
	Versions []casino.VersionRecord `json:"versions"`
}

func (s *Server) handleListVersions(w http.ResponseWriter, r *http.Request) {
	if err := require(r.Context(), casino.CapVersionsRead); err != nil {
		Error(w, r, err)
		return
	}
	vs, err := s.cfg.Versions.Versions(r.Context())
	if err != nil {
		Error(w, r, err)
		return
	}
	if vs == nil {
		vs = []casino.VersionRecord{}
	}
	JSON(w, http.StatusOK, VersionList{Current: s.cfg.Build, Versions: vs})
}
