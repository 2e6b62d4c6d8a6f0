package casino

import (
	"context"
	"time"
)

// DrillVerdict is the outcome of one restore drill, in the shape of AWS
// restore testing's validation status.
type DrillVerdict string

// Drill verdicts. Only DrillSuccessful exits 0. A drill row that is still
// DrillRunning once its process is gone was interrupted (kill -9, a lost
// node): the next drill marks it DrillFailed.
const (
	DrillRunning    DrillVerdict = "RUNNING"
	DrillSuccessful DrillVerdict = "SUCCESSFUL"
	DrillFailed     DrillVerdict = "FAILED"
	DrillTimedOut   DrillVerdict = "TIMED_OUT"
)

// Drill phase names, in the order a drill runs them.
const (
	DrillPhaseSelect   = "select"
	DrillPhaseDownload = "download"
	DrillPhaseVerify   = "verify"
	DrillPhaseDecrypt  = "decrypt"
	DrillPhaseRestore  = "restore"
	DrillPhaseMigrate  = "migrate"
	DrillPhaseBoot     = "boot"
	DrillPhaseValidate = "validate"
	DrillPhaseTeardown = "teardown"
)

// DrillPhase is one timed phase of a drill.
type DrillPhase struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
	OK      bool    `json:"ok"`
	Detail  string  `json:"detail,omitempty"`
}

// Drill is one restore drill: a backup restored into an isolated scratch
// target, casino booted on it and the must-pass checks run. It is recorded
// in the live database's drills table (migration 0004); a restore carries
// the rows over like the verification store.
type Drill struct {
	// ID is random (32 hex digits) and names the drill's proof.
	ID         string       `json:"id"`
	StartedAt  time.Time    `json:"started_at"`
	FinishedAt *time.Time   `json:"finished_at,omitempty"` // nil while running
	Verdict    DrillVerdict `json:"verdict"`
	// Reason names why a drill did not succeed ("" when it did).
	Reason string `json:"reason,omitempty"`
	Engine string `json:"engine"`
	// Backup is the backup drilled; BackupSource is its local path or
	// s3:// URL; PickReason says why it was chosen ("latest", "random
	// within 168h0m0s: 3 of 12", "named").
	Backup           string     `json:"backup"`
	BackupSHA256     string     `json:"backup_sha256,omitempty"`
	BackupSnapshotAt *time.Time `json:"backup_snapshot_at,omitempty"`
	BackupSource     string     `json:"backup_source,omitempty"`
	PickReason       string     `json:"pick_reason,omitempty"`
	// ToTime is set for point-in-time drills.
	ToTime *time.Time `json:"to_time,omitempty"`
	// Scratch names the isolated target (a PostgreSQL database name or a
	// SQLite file path), so a later drill can clean up after a crash.
	Scratch string       `json:"scratch,omitempty"`
	Phases  []DrillPhase `json:"phases"`
	// RecoverySeconds is the drill's recovery time (select through
	// validate), compared with RTOTargetSeconds; BackupAgeSeconds is the
	// backup's age when the drill started, compared with RPOTargetSeconds.
	RecoverySeconds  float64 `json:"recovery_seconds"`
	BackupAgeSeconds float64 `json:"backup_age_seconds"`
	RTOTargetSeconds float64 `json:"rto_target_seconds"`
	RPOTargetSeconds float64 `json:"rpo_target_seconds"`
	// ProofPath and JournalHead identify the drill's proof.
	ProofPath   string `json:"proof_path,omitempty"`
	JournalHead string `json:"journal_head,omitempty"`
}

// DrillStore records drills in the live database.
type DrillStore interface {
	// StartDrill inserts d (Verdict DrillRunning) before the drill
	// touches anything, so a crash leaves a row that is not successful.
	StartDrill(ctx context.Context, d Drill) error
	// FinishDrill records d's outcome (every field but ID and StartedAt).
	FinishDrill(ctx context.Context, d Drill) error
	// Drills returns up to limit drills, newest first.
	Drills(ctx context.Context, limit int) ([]Drill, error)
	// LastSuccessfulDrill returns the newest successful drill; ok is false
	// when there is none.
	LastSuccessfulDrill(ctx context.Context) (d Drill, ok bool, err error)
}
