package casino

import (
	"strings"
	"time"
)

// BackupManifest describes one backup file. It is written beside the backup
// as <name>.manifest.json (for casino_db_20261129_030000.sql.gz that is
// casino_db_20261129_030000.manifest.json; see ManifestPath), and signed with
// Ed25519 over its exact bytes into <name>.manifest.json.sig (see
// SignaturePath). A signed manifest is never rewritten. Restores verify the
// signature and the file against it; casino dr close reads SnapshotAt to
// compute RPO.
type BackupManifest struct {
	FormatVersion int    `json:"format_version"`
	Engine        string `json:"engine"` // EngineSQLite or EnginePostgres
	SchemaVersion int    `json:"schema_version"`
	AppVersion    string `json:"app_version"`
	AppCommit     string `json:"app_commit"`
	// SnapshotAt is the UTC instant the data reflects: RPO is measured
	// against it.
	SnapshotAt  time.Time `json:"snapshot_at"`
	CreatedAt   time.Time `json:"created_at"`
	DurationMS  float64   `json:"duration_ms"`
	File        string    `json:"file"` // base name of the backup file
	Compression string    `json:"compression"`
	// SizeBytes and SHA256 describe the compressed stream: the file itself,
	// or, when Encryption is set, what age decrypts it to.
	SizeBytes int64  `json:"size_bytes"`
	SHA256    string `json:"sha256"`
	// UncompressedBytes is the exact length of the decompressed data;
	// reading stops there, and a stream that ends short or goes on is
	// refused. 0 in manifests written before it existed.
	UncompressedBytes int64            `json:"uncompressed_bytes"`
	RowCounts         map[string]int64 `json:"row_counts"`
	// Encryption is set when the file is age-encrypted.
	Encryption *BackupEncryption `json:"encryption,omitempty"`
	// KeyFingerprint names the Ed25519 key that signs this manifest
	// (keys.Fingerprint); "" in an unsigned manifest.
	KeyFingerprint string `json:"key_fingerprint,omitempty"`
	// Source names the database without credentials.
	Source string `json:"source"`
	// Kind is "scheduled", "manual" or "pre_restore".
	Kind string `json:"kind"`
}

// BackupEncryption describes an age-encrypted backup file: the file on disk
// is the age ciphertext of the compressed stream, so its integrity can be
// checked without the private key.
type BackupEncryption struct {
	Scheme     string   `json:"scheme"`     // "age"
	Recipients []string `json:"recipients"` // age1... public recipients
	// CiphertextBytes and CiphertextSHA256 describe the file as stored.
	CiphertextBytes  int64  `json:"ciphertext_bytes"`
	CiphertextSHA256 string `json:"ciphertext_sha256"`
}

// backupSuffixes are the file endings of backup files, longest first.
var backupSuffixes = []string{
	".sqlite.gz.age", ".sqlite.zst.age", ".sql.gz.age", ".sql.zst.age", ".sqlite.age", ".sql.age",
	".sql.gz", ".sql.zst", ".sqlite.gz", ".sqlite.zst", ".sql", ".sqlite",
}

// ManifestPath returns the manifest path of a backup file: its name with the
// format and compression suffix replaced by ".manifest.json".
func ManifestPath(backupPath string) string {
	for _, s := range backupSuffixes {
		if strings.HasSuffix(backupPath, s) {
			return strings.TrimSuffix(backupPath, s) + ".manifest.json"
		}
	}
	return backupPath + ".manifest.json"
}

// SignaturePath returns the path of the detached Ed25519 signature of a
// backup's manifest: the manifest path plus ".sig". It holds the 64 raw
// signature bytes, as openssl pkeyutl -sigfile reads them.
func SignaturePath(backupPath string) string { return ManifestPath(backupPath) + ".sig" }
