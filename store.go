package casino

import (
	"context"
	"time"
)

// Engine names of the two supported databases.
const (
	EngineSQLite   = "sqlite"
	EnginePostgres = "postgres"
)

// StoreStatus is what readiness and /api/version need to know of the database.
type StoreStatus interface {
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// SchemaVersion returns the applied schema version.
	SchemaVersion(ctx context.Context) (int, error)
	// LatestSchemaVersion returns the newest schema version the binary knows.
	LatestSchemaVersion() int
	// Engine returns EngineSQLite or EnginePostgres.
	Engine() string
}

// VersionRecord is a backend build that started against the database.
type VersionRecord struct {
	Version   string    `json:"version"`
	Commit    string    `json:"commit"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// VersionService keeps the history of builds that ran against the database.
type VersionService interface {
	// RecordVersion inserts the build, or bumps its last_seen.
	RecordVersion(ctx context.Context, version, commit string) error
	// Versions lists the history, most recently seen first.
	Versions(ctx context.Context) ([]VersionRecord, error)
}
