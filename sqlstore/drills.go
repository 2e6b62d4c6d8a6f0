package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"casino"
)

var _ casino.DrillStore = (*DB)(nil)

// maxDrillPhases bounds the phases stored per drill.
const maxDrillPhases = 32

// StartDrill implements casino.DrillStore.
func (db *DB) StartDrill(ctx context.Context, d casino.Drill) error {
	if d.ID == "" {
		return errors.New("record drill: no id")
	}
	if d.Verdict == "" {
		d.Verdict = casino.DrillRunning
	}
	at := d.StartedAt
	if at.IsZero() {
		at = Now()
	}
	phases, err := drillPhasesJSON(d.Phases)
	if err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, `INSERT INTO drills (id, started_at, verdict, reason, engine, backup_name, backup_sha256,
backup_snapshot_at, backup_source, pick_reason, to_time, scratch, phases, rto_target_seconds, rpo_target_seconds, proof_path)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.ID, at.UTC().Truncate(time.Microsecond), string(d.Verdict), d.Reason, d.Engine, d.Backup, d.BackupSHA256,
		nullTime(d.BackupSnapshotAt), d.BackupSource, d.PickReason, nullTime(d.ToTime), d.Scratch, phases,
		d.RTOTargetSeconds, d.RPOTargetSeconds, d.ProofPath)
	if err != nil {
		return fmt.Errorf("record drill start: %w", err)
	}
	return nil
}

// FinishDrill implements casino.DrillStore.
func (db *DB) FinishDrill(ctx context.Context, d casino.Drill) error {
	phases, err := drillPhasesJSON(d.Phases)
	if err != nil {
		return err
	}
	fin := d.FinishedAt
	if fin == nil {
		now := Now()
		fin = &now
	}
	res, err := db.ExecContext(ctx, `UPDATE drills SET finished_at = ?, verdict = ?, reason = ?, engine = ?, backup_name = ?,
backup_sha256 = ?, backup_snapshot_at = ?, backup_source = ?, pick_reason = ?, to_time = ?, scratch = ?, phases = ?,
recovery_seconds = ?, backup_age_seconds = ?, rto_target_seconds = ?, rpo_target_seconds = ?, proof_path = ?, journal_head = ?
WHERE id = ?`,
		nullTime(fin), string(d.Verdict), d.Reason, d.Engine, d.Backup, d.BackupSHA256, nullTime(d.BackupSnapshotAt),
		d.BackupSource, d.PickReason, nullTime(d.ToTime), d.Scratch, phases, d.RecoverySeconds, d.BackupAgeSeconds,
		d.RTOTargetSeconds, d.RPOTargetSeconds, d.ProofPath, d.JournalHead, d.ID)
	if err != nil {
		return fmt.Errorf("record drill result: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("record drill result: drill %s is not on record", d.ID)
	}
	return nil
}

const drillColumns = `id, started_at, finished_at, verdict, reason, engine, backup_name, backup_sha256, backup_snapshot_at,
backup_source, pick_reason, to_time, scratch, phases, recovery_seconds, backup_age_seconds, rto_target_seconds,
rpo_target_seconds, proof_path, journal_head`

// Drills implements casino.DrillStore: up to limit drills, newest first.
func (db *DB) Drills(ctx context.Context, limit int) ([]casino.Drill, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	rows, err := db.QueryContext(ctx, `SELECT `+drillColumns+` FROM drills ORDER BY started_at DESC, id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("read drills: %w", err)
	}
	defer rows.Close()
	var out []casino.Drill
	for rows.Next() {
		d, err := scanDrill(rows)
		if err != nil {
			return nil, fmt.Errorf("read drills: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// LastSuccessfulDrill implements casino.DrillStore.
func (db *DB) LastSuccessfulDrill(ctx context.Context) (casino.Drill, bool, error) {
	row := db.QueryRowContext(ctx, `SELECT `+drillColumns+` FROM drills WHERE verdict = ? ORDER BY started_at DESC, id DESC LIMIT 1`, string(casino.DrillSuccessful))
	d, err := scanDrill(row)
	if errors.Is(err, sql.ErrNoRows) {
		return casino.Drill{}, false, nil
	}
	if err != nil {
		return casino.Drill{}, false, fmt.Errorf("read the last successful drill: %w", err)
	}
	return d, true, nil
}

func scanDrill(s interface{ Scan(...any) error }) (casino.Drill, error) {
	var (
		d                 casino.Drill
		verdict, phases   string
		fin, snap, toTime sql.NullTime
	)
	if err := s.Scan(&d.ID, &d.StartedAt, &fin, &verdict, &d.Reason, &d.Engine, &d.Backup, &d.BackupSHA256, &snap,
		&d.BackupSource, &d.PickReason, &toTime, &d.Scratch, &phases, &d.RecoverySeconds, &d.BackupAgeSeconds,
		&d.RTOTargetSeconds, &d.RPOTargetSeconds, &d.ProofPath, &d.JournalHead); err != nil {
		return d, err
	}
	d.StartedAt = d.StartedAt.UTC()
	d.Verdict = casino.DrillVerdict(verdict)
	d.FinishedAt, d.BackupSnapshotAt, d.ToTime = timePtr(fin), timePtr(snap), timePtr(toTime)
	// A row is read back as written by this package; a phases value that
	// does not parse (edited by hand) reads as no phases rather than failing
	// every page that lists drills.
	if json.Unmarshal([]byte(phases), &d.Phases) != nil {
		d.Phases = nil
	}
	return d, nil
}

func drillPhasesJSON(p []casino.DrillPhase) (string, error) {
	if len(p) > maxDrillPhases {
		return "", fmt.Errorf("record drill: %d phases (at most %d)", len(p), maxDrillPhases)
	}
	if p == nil {
		p = []casino.DrillPhase{}
	}
	b, err := json.Marshal(p)
	return string(b), err
}

func nullTime(t *time.Time) any {
	if t == nil || t.IsZero() {
		return nil
	}
	return t.UTC().Truncate(time.Microsecond)
}

func timePtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}
