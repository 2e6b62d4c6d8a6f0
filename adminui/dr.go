package adminui

import (
	"html/template"
	"net/http"
	"path"
	"time"

	"casino"
)

// drData is the /dr page: the readiness status and its two charts.
type drData struct {
	St casino.DRStatus
	// Compared is the backup measured against the RPO (remote when serve
	// has the remote's settings, else local).
	Compared *casino.BackupFreshness
	// OverRPO: the compared backup is older than the RPO target, or there
	// is none.
	OverRPO                 bool
	RecoveryChart, AgeChart template.HTML
}

// ProofName is the last drill's proof file name.
func (d drData) ProofName() string {
	if d.St.LastDrill == nil || d.St.LastDrill.ProofPath == "" {
		return ""
	}
	return path.Base(d.St.LastDrill.ProofPath)
}

// RPO and RTO are the targets in words.
func (d drData) RPO() string {
	if d.St.RPOSeconds == nil {
		return "none"
	}
	return humanSeconds(*d.St.RPOSeconds)
}
func (d drData) RTO() string { return humanSeconds(d.St.RTOSeconds) }

// OverRTO: the last drill's recovery took longer than the RTO target.
func (d drData) OverRTO() bool {
	return d.St.LastDrill != nil && d.St.RTOSeconds > 0 && d.St.LastDrill.RecoverySeconds > d.St.RTOSeconds
}

func (u *UI) handleDR(w http.ResponseWriter, r *http.Request, s *session) {
	if !s.Caps.IsOwner {
		u.renderError(w, r, s, http.StatusForbidden, "Not allowed", "The DR readiness page is for the owner.")
		return
	}
	st, err := u.c.DRStatus(r.Context(), s.token)
	if err != nil {
		u.fail(w, r, s, err)
		return
	}
	d := drData{St: st}
	d.Compared = st.Local
	if st.Remote != nil {
		d.Compared = st.Remote
	}
	if c := d.Compared; c != nil && st.RPOSeconds != nil {
		d.OverRPO = c.SnapshotAt == nil || c.AgeSeconds > *st.RPOSeconds
	}
	rto := st.RTOSeconds
	d.RecoveryChart = trendChart("recovery", "Recovery time per drill", "recovery time", "RTO", st.Trend,
		func(p casino.DrillPoint) float64 { return p.RecoverySeconds }, &rto)
	d.AgeChart = trendChart("age", "Backup age per drill", "backup age", "RPO", st.Trend,
		func(p casino.DrillPoint) float64 { return p.BackupAgeSeconds }, st.RPOSeconds)
	u.render(w, r, http.StatusOK, "dr", &view{Title: "DR readiness", Nav: "dr", S: s, Data: d})
}

// handleDrillProof shows a drill's proof as plain text: the backend serves
// it read-only from its proof folder; the console only passes it on.
func (u *UI) handleDrillProof(w http.ResponseWriter, r *http.Request, s *session) {
	b, err := u.c.DrillProof(r.Context(), s.token, r.PathValue("id"))
	if err != nil {
		if StatusOf(err) == http.StatusBadRequest {
			u.renderError(w, r, s, http.StatusNotFound, "Not found", "There is no such drill proof.")
			return
		}
		u.fail(w, r, s, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// age is a duration in words for templates.
func age(seconds float64) string { return humanSeconds(seconds) }

// ptrTime is *t for templates (zero when nil).
func ptrTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}
