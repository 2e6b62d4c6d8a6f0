package casino

import (
	"context"
	"time"
)

// RestoreFactsVersion is the shape version of RestoreFacts.
const RestoreFactsVersion = 1

// RestoreFacts are the typed facts of one restore: what `casino restore
// --json` prints (and --result-file writes), and what `casino dr run`
// journals as a typed entry. dr close computes RPO from these alone, never
// from command lines; a dry run is marked as one and never counts.
type RestoreFacts struct {
	FormatVersion int `json:"format_version"`
	// RestoreID is random per restore and written into the restored
	// database, so a validation can tell the restored copy from any other.
	RestoreID  string    `json:"restore_id"`
	DryRun     bool      `json:"dry_run"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	// Backup is what was restored.
	Backup RestoredBackup `json:"backup"`
	// Overrides names every safety override used: "verify_key" (a key given
	// on the command line), "trust_unsigned", "force_foreign_target",
	// "terminate_connections", "no_safety_backup".
	Overrides []string `json:"overrides,omitempty"`
	// Carried is the live state carried into the restored copy.
	Carried *CarriedState `json:"carried,omitempty"`
	// KeptAside names the previous database kept for --undo: a PostgreSQL
	// database name or a SQLite file path.
	KeptAside string `json:"kept_aside,omitempty"`
	// RowCounts are the restored database's per-table row counts.
	RowCounts map[string]int64 `json:"row_counts"`
	Target    RestoreTarget    `json:"target"`
	// PITR is set for point-in-time restores.
	PITR *PITRFacts `json:"pitr,omitempty"`
}

// RestoredBackup identifies the backup a restore read.
type RestoredBackup struct {
	Name string `json:"name"`
	// Location is the local path or the s3:// URL it was read from.
	Location       string    `json:"location"`
	SHA256         string    `json:"sha256"`
	SnapshotAt     time.Time `json:"snapshot_at"`
	SchemaVersion  int       `json:"schema_version"`
	KeyFingerprint string    `json:"key_fingerprint,omitempty"` // "" when unsigned
	Encrypted      bool      `json:"encrypted"`
}

// RestoreTarget identifies the database restored into. Database names,
// file paths and PostgreSQL's system_identifier survive swaps and undos;
// RestoreFacts.RestoreID does not.
type RestoreTarget struct {
	Engine           string `json:"engine"`
	Database         string `json:"database,omitempty"`          // PostgreSQL
	SystemIdentifier string `json:"system_identifier,omitempty"` // PostgreSQL
	Path             string `json:"path,omitempty"`              // SQLite
}

// CarriedState is the live state a restore carried from the database it
// replaced into the restored copy.
type CarriedState struct {
	LoginFreeze      bool     `json:"login_freeze"`
	Maintenance      bool     `json:"maintenance"`
	RevokedTokens    int      `json:"revoked_tokens"`
	TokensValidAfter int      `json:"tokens_valid_after"` // users and tenants whose cut-off moved
	PasswordHashes   []string `json:"password_hashes,omitempty"`
	NotCarriedUsers  []string `json:"not_carried_users,omitempty"`
	AuditEvents      int      `json:"audit_events"`
	Verifications    int      `json:"verifications"`
	Drills           int      `json:"drills"`
	// Skipped names each part that could not be carried, and why (a
	// damaged live database carries what it still has).
	Skipped []string `json:"skipped,omitempty"`
}

// PITRFacts are the facts of a point-in-time restore.
type PITRFacts struct {
	// TargetTime is the requested instant; nil for "latest".
	TargetTime *time.Time `json:"target_time,omitempty"`
	// ReachedAt is the time of the last recovered commit: RPO is measured
	// from it.
	ReachedAt time.Time `json:"reached_at"`
	// Source is the replica or WAL archive read.
	Source string `json:"source"`
	// Mode is "target_time" (replay stopped at TargetTime) or "end_of_wal"
	// (the target was at or after the last commit, or "latest").
	Mode string `json:"mode,omitempty"`
	// BaseBackup names the PostgreSQL base backup replay started from.
	BaseBackup string `json:"base_backup,omitempty"`
	// BaseBackupStartedAt is when that base backup started, by the
	// server's clock (the clock of every commit time): replay begins at its
	// checkpoint, so no recovered commit is older.
	BaseBackupStartedAt time.Time `json:"base_backup_started_at,omitzero"`
	// LastXID is the transaction replay stopped at (PostgreSQL): the last
	// one replayed, except when RecoveryStop says "stopping before", where
	// it is the first one not replayed; 0 when unknown.
	LastXID uint32 `json:"last_xid,omitempty"`
	// RecoveryEnd is the server's recovery end line, as logged: "last
	// completed transaction was at log time T", T being ReachedAt.
	RecoveryEnd string `json:"recovery_end,omitempty"`
	// RecoveryStop is the server's "recovery stopping before|after commit
	// of transaction N, time T" line when replay stopped at TargetTime:
	// "before" names the first transaction not replayed.
	RecoveryStop string `json:"recovery_stop,omitempty"`
	// VerifiedWAL is how many WAL segments matched their signed manifests
	// (PostgreSQL); UnsignedWAL names the tail replayed without one: the
	// segment being written (.partial) and those completed after the last
	// seal. TrustUnsigned is set when --trust-unsigned skipped the checks.
	VerifiedWAL   int      `json:"verified_wal_segments,omitempty"`
	UnsignedWAL   []string `json:"unsigned_wal,omitempty"`
	TrustUnsigned bool     `json:"trust_unsigned,omitempty"`
}

// BackupVerification is one verification of a backup: a deep verify or a
// drill. Signed manifests are never rewritten; results live in the
// verification store of the live database.
type BackupVerification struct {
	ID         int64     `json:"id"`
	BackupName string    `json:"backup_name"`
	SHA256     string    `json:"sha256"`
	Kind       string    `json:"kind"` // "verify" (full, no database), "deep_verify" or "drill"
	OK         bool      `json:"ok"`
	Detail     string    `json:"detail,omitempty"`
	VerifiedAt time.Time `json:"verified_at"`
}

// VerificationStore records backup verifications.
type VerificationStore interface {
	// RecordVerification appends one result.
	RecordVerification(ctx context.Context, v BackupVerification) error
	// LastVerifications returns the newest result per backup name.
	LastVerifications(ctx context.Context) (map[string]BackupVerification, error)
}
