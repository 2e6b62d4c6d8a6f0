package casino

import (
	"context"
	"io"
	"time"
)

// CapAdminDR lets a caller read the DR readiness status and the drill
// proofs (GET /api/v1/admin/dr-status): the owner only, like every admin:*
// capability.
const CapAdminDR = "admin:dr"

// DRStatus is the DR readiness of a deployment, the body of
// GET /api/v1/admin/dr-status and the data of the console's /dr page. Every
// figure is read when asked; nothing here is cached for longer than a few
// seconds.
type DRStatus struct {
	GeneratedAt time.Time `json:"generated_at"`
	// Scenario is the scenario whose targets the page compares with
	// ("B", a database restore: what a drill rehearses).
	Scenario   string   `json:"scenario"`
	RTOSeconds float64  `json:"rto_target_seconds"`
	RPOSeconds *float64 `json:"rpo_target_seconds"` // nil: the scenario restores no data
	// Targets are every scenario's targets in force, and TargetsSource
	// where they came from (a path or "embedded:dr_targets.json").
	Targets       []DRTarget `json:"targets"`
	TargetsSource string     `json:"targets_source"`
	// PITR is serve's point-in-time recovery setting (off, litestream, wal).
	PITR string `json:"pitr"`

	// Local is the newest trusted backup of serve's backup folder; Remote
	// the newest trusted backup of the remote, nil when serve has no remote
	// settings. Compared names the one measured against the RPO: "remote"
	// when serve has the remote's settings, else "local".
	Local    *BackupFreshness `json:"local"`
	Remote   *BackupFreshness `json:"remote,omitempty"`
	Compared string           `json:"compared"`
	// LastVerifiedAt is the newest successful backup verification (verify,
	// deep verify or drill) in the verification store.
	LastVerifiedAt *time.Time `json:"last_verified_at,omitempty"`

	// LastDrill is the newest drill (possibly still running);
	// LastSuccessfulDrill the newest successful one. ProofReadable says
	// whether serve can read LastDrill's proof from its proof folder, so the
	// console can link it.
	LastDrill           *Drill `json:"last_drill,omitempty"`
	LastSuccessfulDrill *Drill `json:"last_successful_drill,omitempty"`
	ProofReadable       bool   `json:"proof_readable"`
	// Trend is the last drills (at most DRTrendDrills), oldest first.
	Trend []DrillPoint `json:"trend"`

	// OpenIncidents are the incidents of serve's proof folder that are not
	// closed (drill proofs left open by a crashed drill are not incidents);
	// IncidentsError says why the folder could not be read.
	OpenIncidents  []OpenIncident `json:"open_incidents"`
	IncidentsError string         `json:"incidents_error,omitempty"`
}

// DRTrendDrills is how many drills the readiness trend shows.
const DRTrendDrills = 30

// DRTarget is one scenario's targets as exported on /metrics.
type DRTarget struct {
	Scenario   string   `json:"scenario"`
	Name       string   `json:"name"`
	RTOSeconds float64  `json:"rto_seconds"`
	RPOSeconds *float64 `json:"rpo_seconds"`
}

// BackupFreshness is the newest trusted backup of one place.
type BackupFreshness struct {
	Where      string     `json:"where"` // "local" or "remote"
	Location   string     `json:"location"`
	Name       string     `json:"name,omitempty"`
	SnapshotAt *time.Time `json:"snapshot_at,omitempty"`
	AgeSeconds float64    `json:"age_seconds,omitempty"`
	// Error says why the place could not be read ("" when it was, even
	// when it holds no backup).
	Error string `json:"error,omitempty"`
}

// DrillPoint is one drill of the readiness trend.
type DrillPoint struct {
	ID               string       `json:"id"`
	StartedAt        time.Time    `json:"started_at"`
	Verdict          DrillVerdict `json:"verdict"`
	RecoverySeconds  float64      `json:"recovery_seconds"`
	BackupAgeSeconds float64      `json:"backup_age_seconds"`
}

// OpenIncident is an incident that is declared and not closed.
type OpenIncident struct {
	ID            string    `json:"id"`
	Severity      string    `json:"severity"`
	IncidentStart time.Time `json:"incident_start_utc"`
	Scenario      string    `json:"scenario,omitempty"`
}

// DRStatusService answers the DR readiness status and serves drill proofs.
type DRStatusService interface {
	DRStatus(ctx context.Context) (*DRStatus, error)
	// DrillProof opens the proof of the drill with id, read-only, from
	// serve's proof folder: EINVALID for a malformed id, ENOTFOUND for an
	// unknown drill or a proof the folder does not hold.
	DrillProof(ctx context.Context, id string) (io.ReadCloser, error)
}
