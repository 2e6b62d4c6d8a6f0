package dr

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"casino"
)

// PITR recovery modes a restore's facts may record: replay stopped at the
// target, or ran to the end of the WAL (PostgreSQL) or of the Litestream
// replica (SQLite) because the target was at or after the last commit.
var PITRRecoveryModes = []string{"target_time", "end_of_wal", "end_of_replica"}

var (
	walSegmentRE = regexp.MustCompile(`^[0-9A-F]{24}(\.partial)?$`)
	// The "last completed transaction" line names the instant reached.
	recoveryEndTimeRE = regexp.MustCompile(`last completed transaction was at log time (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?)\+00`)
)

// PITRProblems returns what makes a restore's point-in-time facts impossible
// together, each naming the fields it read; nil when they hold together (or
// the restore was no point-in-time one). A recovery to a time stops at or
// before it; replay starts at the base backup's checkpoint, so no replayed
// commit is older than the base backup; the server's recovery end line names
// the same instant as reached_at; the unsigned WAL are WAL segment names.
// Facts with problems are refused when dr run captures them
// (ParseRestoreFacts), and count for nothing when a journal holds them
// anyway (RestoreRecord.Counts): a journal written by hand, or by a
// restore that lied, never yields an RPO.
func PITRProblems(f *casino.RestoreFacts) []string {
	p := f.PITR
	if p == nil {
		return nil
	}
	var out []string
	at := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
	if p.ReachedAt.IsZero() && f.Backup.SnapshotAt.IsZero() && !f.DryRun {
		out = append(out, "pitr.reached_at and backup.snapshot_at are both empty: no instant to measure the RPO from")
	}
	if p.Mode != "" && !slices.Contains(PITRRecoveryModes, p.Mode) {
		out = append(out, fmt.Sprintf("pitr.mode %q is none of %s", p.Mode, strings.Join(PITRRecoveryModes, ", ")))
	}
	if p.Mode == "target_time" && p.TargetTime == nil {
		out = append(out, "pitr.mode is target_time but there is no pitr.target_time")
	}
	if p.TargetTime != nil && !p.ReachedAt.IsZero() && p.ReachedAt.After(*p.TargetTime) {
		out = append(out, fmt.Sprintf("pitr.reached_at %s is after the recovery target pitr.target_time %s: a recovery to a time stops at or before it", at(p.ReachedAt), at(*p.TargetTime)))
	}
	// Without reached_at the RPO is measured from backup.snapshot_at
	// (dr close), which a recovery to a time cannot reach past either.
	if p.TargetTime != nil && p.ReachedAt.IsZero() && f.Backup.SnapshotAt.After(*p.TargetTime) {
		out = append(out, fmt.Sprintf("backup.snapshot_at %s (the instant the RPO is measured from, as pitr.reached_at is empty) is after the recovery target pitr.target_time %s: a recovery to a time stops at or before it", at(f.Backup.SnapshotAt), at(*p.TargetTime)))
	}
	// A commit replayed comes after the base backup's checkpoint. Only a
	// recovery that replayed none (end_of_wal on a database idle since
	// before the base backup) reports an older commit, read from the WAL.
	replayed := p.Mode == "target_time" || recoveryEndTimeRE.MatchString(p.RecoveryEnd)
	if replayed && !p.BaseBackupStartedAt.IsZero() && !p.ReachedAt.IsZero() && p.ReachedAt.Before(p.BaseBackupStartedAt) {
		out = append(out, fmt.Sprintf("pitr.reached_at %s is before the base backup %s started (pitr.base_backup_started_at %s): replay starts at its checkpoint, so no replayed commit is older", at(p.ReachedAt), p.BaseBackup, at(p.BaseBackupStartedAt)))
	}
	if !f.FinishedAt.IsZero() && p.ReachedAt.After(f.FinishedAt.Add(ClockSkew)) {
		out = append(out, fmt.Sprintf("pitr.reached_at %s is after the restore finished (finished_at %s)", at(p.ReachedAt), at(f.FinishedAt)))
	}
	if m := recoveryEndTimeRE.FindStringSubmatch(p.RecoveryEnd); m != nil {
		t, err := time.Parse("2006-01-02 15:04:05.999999", m[1])
		if err != nil || !t.Equal(p.ReachedAt.Truncate(time.Microsecond)) {
			out = append(out, fmt.Sprintf("pitr.recovery_end says the last completed transaction was at %s, pitr.reached_at says %s", m[1], at(p.ReachedAt)))
		}
	}
	if p.VerifiedWAL < 0 {
		out = append(out, fmt.Sprintf("pitr.verified_wal_segments is %d", p.VerifiedWAL))
	}
	for i, s := range p.UnsignedWAL {
		if !walSegmentRE.MatchString(s) {
			out = append(out, fmt.Sprintf("pitr.unsigned_wal[%d] (%d bytes) is not a WAL segment name", i, len(s)))
			break
		}
	}
	return out
}

// quoteLine renders untrusted text on one line of the proof: control
// characters and runs of white space become one space, at most 300 bytes
// are kept (cut on a rune boundary), and it is quoted as Go would.
func quoteLine(s string) string {
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f || r == ' ' }), " ")
	if len(s) > 300 {
		cut := 300
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// renderPITRFacts writes the point-in-time rows of a restore entry
// (renderer version 4 on): the target and how replay ended, the instant
// reached and the server's lines saying so, the base backup, and what WAL
// was replayed without a signed manifest.
func renderPITRFacts(row func(k, v string), f *casino.RestoreFacts) {
	p := f.PITR
	precise := func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	target := "latest (the newest state)"
	if p.TargetTime != nil {
		target = precise(*p.TargetTime)
	}
	switch p.Mode {
	case "target_time":
		target += "; replay stopped at the target"
	case "end_of_wal":
		target += "; replayed to the end of the WAL (the target is at or after its last commit)"
	case "end_of_replica":
		target += "; restored the replica's newest state (the target is at or after its last sync)"
	}
	row("recovery target", target)
	row("time reached (last recovered change)", precise(p.ReachedAt))
	if p.RecoveryEnd != "" {
		row("recovery end line", quoteLine(p.RecoveryEnd))
	}
	if p.RecoveryStop != "" {
		row("recovery stop line", quoteLine(p.RecoveryStop))
	}
	if p.LastXID != 0 {
		what := "last replayed transaction"
		if strings.Contains(p.RecoveryStop, "stopping before") {
			what = "first transaction not replayed"
		}
		row(what, fmt.Sprint(p.LastXID))
	}
	if p.Source != "" {
		row("recovered from", quoteLine(p.Source))
	}
	if p.BaseBackup != "" {
		base := quoteLine(p.BaseBackup)
		if !p.BaseBackupStartedAt.IsZero() {
			base += ", started " + precise(p.BaseBackupStartedAt)
		}
		row("base backup", base)
	}
	switch {
	case p.TrustUnsigned:
		row("WAL", "**not verified** (--trust-unsigned): no segment was checked against a signed manifest")
	case p.VerifiedWAL > 0 || len(p.UnsignedWAL) > 0:
		w := fmt.Sprintf("%d segments verified against signed manifests", p.VerifiedWAL)
		if len(p.UnsignedWAL) == 0 {
			w += "; none unsigned"
		} else {
			var names []string
			partial := 0
			for _, s := range p.UnsignedWAL {
				if !walSegmentRE.MatchString(s) {
					s = "(not a WAL segment name)"
				}
				names = append(names, s)
				if strings.HasSuffix(s, ".partial") {
					partial++
				}
			}
			w += fmt.Sprintf("; %d replayed without a signed manifest (the tail the stream had not sealed yet", len(p.UnsignedWAL))
			if partial > 0 {
				w += fmt.Sprintf(", %d of them the .partial segment being written", partial)
			}
			w += "): " + strings.Join(names, ", ")
		}
		row("WAL", w)
	}
}
