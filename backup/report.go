package backup

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"casino"
	"casino/retention"
	"casino/s3store"
	"casino/sqlstore"
)

// The reports of the backup commands, local and remote: what each row says
// and how the table reads. cmd/casino only picks the writer and --json.

// HumanAge renders a duration as 45s, 12m, 3h, 2d.
func HumanAge(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// verifiedText is the VERIFIED/LAST_VERIFIED cell of one backup.
func verifiedText(v casino.BackupVerification, ok bool, now time.Time) string {
	if !ok {
		return "never"
	}
	s := HumanAge(now.Sub(v.VerifiedAt)) + " ago (" + v.Kind + ")"
	if !v.OK {
		s += " FAILED"
	}
	return s
}

// ListRow is one backup of `backup list --json`.
type ListRow struct {
	Name           string     `json:"name"`
	Path           string     `json:"path"`
	AgeSeconds     float64    `json:"age_seconds"`
	SizeBytes      int64      `json:"size_bytes"`
	Engine         string     `json:"engine"`
	SchemaVersion  int        `json:"schema_version"`
	Kind           string     `json:"kind"`
	SnapshotAt     *time.Time `json:"snapshot_at"`
	KeyFingerprint string     `json:"key_fingerprint,omitempty"`
	Encrypted      bool       `json:"encrypted"`
	LastVerifiedAt *time.Time `json:"last_verified_at"`
	LastVerifiedOK *bool      `json:"last_verified_ok,omitempty"`
	Problem        string     `json:"problem,omitempty"`
	ManifestError  string     `json:"manifest_error,omitempty"`
}

// ListRows describes the local backups with their last verification
// (verified may be nil: no verification store).
func ListRows(entries []Entry, verified map[string]casino.BackupVerification, now time.Time) []ListRow {
	rows := []ListRow{}
	for _, e := range entries {
		r := ListRow{Name: e.Name, Path: e.Path, AgeSeconds: now.Sub(e.Time()).Seconds(), SizeBytes: e.SizeBytes, Engine: EngineOfName(e.Name), ManifestError: e.ManifestError, Problem: e.Problem, KeyFingerprint: e.KeyFingerprint}
		if m := e.Manifest; m != nil {
			at := m.SnapshotAt
			r.Engine, r.SchemaVersion, r.Kind, r.SnapshotAt, r.Encrypted = m.Engine, m.SchemaVersion, m.Kind, &at, m.Encryption != nil
		}
		if v, ok := verified[e.Name]; ok {
			at, vok := v.VerifiedAt, v.OK
			r.LastVerifiedAt, r.LastVerifiedOK = &at, &vok
		}
		rows = append(rows, r)
	}
	return rows
}

// WriteList writes the local backup table, then the untrusted ones' reasons.
func WriteList(w io.Writer, dir string, entries []Entry, verified map[string]casino.BackupVerification, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tAGE\tSIZE\tENGINE\tSCHEMA\tKIND\tKEY\tVERIFIED")
	var problems []string
	for _, e := range entries {
		engine, schema, kind, key, ver := EngineOfName(e.Name), "-", "-", "-", "never"
		if m := e.Manifest; m != nil {
			engine, schema, kind = m.Engine, fmt.Sprint(m.SchemaVersion), m.Kind
			switch {
			case e.KeyFingerprint != "":
				key = e.KeyFingerprint
			case m.KeyFingerprint != "":
				key = m.KeyFingerprint + " (not checked)"
			default:
				key = "UNSIGNED"
			}
			if v, ok := verified[e.Name]; ok {
				ver = HumanAge(now.Sub(v.VerifiedAt)) + " ago"
				if !v.OK {
					ver += " FAILED"
				}
			}
		} else {
			ver = "NO MANIFEST"
		}
		if e.Problem != "" {
			key = "UNTRUSTED"
			problems = append(problems, e.Name+": "+e.Problem)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Name, HumanAge(now.Sub(e.Time())), HumanBytes(e.SizeBytes), engine, schema, kind, key, ver)
	}
	tw.Flush()
	for _, p := range problems {
		fmt.Fprintf(w, "untrusted: %s\n", p)
	}
	if len(entries) == 0 {
		fmt.Fprintf(w, "(no backups in %s)\n", dir)
	}
}

// RemoteReport is `backup list --remote`: the listing and each backup's
// last verification from the verification store.
type RemoteReport struct {
	Remote  string            `json:"remote"`
	Listing *s3store.Listing  `json:"listing"`
	Rows    []RemoteReportRow `json:"rows"`
}

// RemoteReportRow is one remote backup as the table shows it.
type RemoteReportRow struct {
	Name           string                     `json:"name"`
	SnapshotAt     string                     `json:"snapshot_at"`
	Size           string                     `json:"size"`
	Encryption     string                     `json:"encryption"`
	RetainUntil    string                     `json:"retain_until"`
	Key            string                     `json:"key"`
	Status         string                     `json:"status"`
	LastVerified   string                     `json:"last_verified"`
	Verification   *casino.BackupVerification `json:"last_verification,omitempty"`
	VerifyProblems []string                   `json:"-"`
}

// NewRemoteReport builds the report of l; verified may be nil (no
// verification store reachable: LAST_VERIFIED says "unknown").
func NewRemoteReport(url string, l *s3store.Listing, verified map[string]casino.BackupVerification, now time.Time) *RemoteReport {
	r := &RemoteReport{Remote: url, Listing: l}
	for _, bk := range l.Backups {
		row := RemoteReportRow{Name: bk.Name, SnapshotAt: "-", Size: "-", Encryption: "-", RetainUntil: "no lock", Key: "-", Status: "ok", LastVerified: "unknown (no DATABASE_URL)"}
		if m := bk.Manifest; m != nil {
			row.SnapshotAt = m.SnapshotAt.UTC().Format(time.RFC3339)
			row.Size = HumanBytes(s3store.StoredOf(m).Size)
			row.Encryption = "none"
			if m.Encryption != nil {
				row.Encryption = m.Encryption.Scheme
			}
		}
		if bk.Lock.IsSet() {
			row.RetainUntil = strings.ToLower(bk.Lock.Mode) + " " + bk.Lock.Until.UTC().Format(time.RFC3339)
		}
		if bk.KeyFingerprint != "" {
			row.Key = bk.KeyFingerprint
		}
		if !bk.Trusted() {
			row.Status = "REFUSED: " + bk.Problem
		}
		if verified != nil {
			v, ok := verified[bk.Name]
			row.LastVerified = verifiedText(v, ok, now)
			if ok {
				row.Verification = &v
			}
		}
		r.Rows = append(r.Rows, row)
	}
	return r
}

// WriteText writes the table, then orphans, unfinished uploads and
// regressions.
func (r *RemoteReport) WriteText(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSNAPSHOT_AT\tSIZE\tENCRYPTION\tRETAIN_UNTIL\tLAST_VERIFIED\tKEY\tSTATUS")
	for _, row := range r.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", row.Name, row.SnapshotAt, row.Size, row.Encryption, row.RetainUntil, row.LastVerified, row.Key, row.Status)
	}
	tw.Flush()
	l := r.Listing
	if len(l.Backups) == 0 {
		fmt.Fprintf(w, "(no backups in %s)\n", r.Remote)
	}
	for _, o := range l.Orphans {
		until := "no lock"
		if o.Lock.IsSet() {
			until = "locked until " + o.Lock.Until.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(w, "ORPHAN %s (%s, %s): data without a manifest, not a backup; prune deletes it when its lock allows\n", o.Name, HumanBytes(o.Size), until)
	}
	for _, u := range l.Incomplete {
		fmt.Fprintf(w, "UNFINISHED UPLOAD %s (started %s): not a backup; the next backup or prune aborts it\n", u.Name, u.Initiated.UTC().Format(time.RFC3339))
	}
	for _, g := range l.Regressions {
		fmt.Fprintf(w, "REGRESSION %s\n", g)
	}
}

// Err is the listing's verdict: an error when backups regressed.
func (r *RemoteReport) Err() error {
	if n := len(r.Listing.Regressions); n > 0 {
		return fmt.Errorf("%d backup(s) seen in %s before are missing or older now: someone deleted backups or rolled the remote back; investigate, then run backup list --remote --accept-missing to accept it", n, r.Remote)
	}
	return nil
}

// AcceptMissing takes the backups the rollback state remembers but the
// remote no longer holds out of that state (backup list --remote
// --accept-missing). A backup whose snapshot went back in time stays
// reported.
func AcceptMissing(ctx context.Context, st *s3store.Store, o RemoteOptions) error {
	l, err := st.ListBackups(ctx, s3store.KeyVerifier(o.Verify))
	if err != nil {
		return err
	}
	if err := s3store.CheckRollback(o.StatePath, st.URL(), l); err != nil {
		return err
	}
	var gone []string
	for _, g := range l.Regressions {
		if name, _, ok := strings.Cut(g, " (snapshot_at"); ok && !strings.HasPrefix(g, "rollback:") {
			gone = append(gone, name)
		}
	}
	return s3store.Forget(o.StatePath, st.URL(), gone...)
}

// RemoteVerifyOptions configure VerifyRemoteNamed.
type RemoteVerifyOptions struct {
	RequireLock bool
	LockMin     time.Duration
	Policy      *retention.Policy
	Now         time.Time
}

// RemoteVerifyReport is `backup verify --remote`.
type RemoteVerifyReport struct {
	Remote      string        `json:"remote"`
	OK          bool          `json:"ok"`
	Results     []RemoteCheck `json:"results"`
	Regressions []string      `json:"regressions"`
	failed      int
}

// VerifyRemoteNamed verifies the backup name names in l ("" or "all":
// every one; "latest": the newest trusted one) and counts the regressions
// of the listing as failures.
func VerifyRemoteNamed(ctx context.Context, st *s3store.Store, l *s3store.Listing, name string, o RemoteVerifyOptions) (*RemoteVerifyReport, error) {
	var targets []*s3store.Backup
	if name == "" || name == "all" {
		for i := range l.Backups {
			targets = append(targets, &l.Backups[i])
		}
	} else {
		bk, err := l.Find(name)
		if err != nil {
			return nil, err
		}
		targets = append(targets, bk)
	}
	rep := &RemoteVerifyReport{Remote: st.URL(), Regressions: l.Regressions}
	for _, bk := range targets {
		c := VerifyRemote(ctx, st, l, bk, o.RequireLock, o.LockMin, o.Policy, o.Now)
		c.sha256 = ""
		if bk.Manifest != nil {
			c.sha256 = bk.Manifest.SHA256
		}
		rep.Results = append(rep.Results, c)
		if !c.OK {
			rep.failed++
		}
	}
	rep.failed += len(l.Regressions)
	rep.OK = rep.failed == 0
	if len(targets) == 0 {
		return rep, fmt.Errorf("no backups in %s", st.URL())
	}
	return rep, nil
}

// Verifications are the results to record in the verification store: one
// "verify" per backup with a casino backup file name (names an attacker
// put in the bucket are not recorded).
func (r *RemoteVerifyReport) Verifications(at time.Time) []casino.BackupVerification {
	var out []casino.BackupVerification
	for _, c := range r.Results {
		if !IsBackupName(c.Name) {
			continue
		}
		detail := "remote " + r.Remote + ": signature, pinned version's sha256 and size, Object Lock"
		if !c.OK {
			detail = "remote " + r.Remote + ": " + strings.Join(c.Problems, "; ")
		}
		out = append(out, casino.BackupVerification{BackupName: c.Name, SHA256: c.sha256, Kind: "verify", OK: c.OK, Detail: detail, VerifiedAt: at.UTC()})
	}
	return out
}

// WriteText writes one block per backup and the regressions.
func (r *RemoteVerifyReport) WriteText(w io.Writer) {
	for _, c := range r.Results {
		verdict := "OK"
		if !c.OK {
			verdict = "FAILED"
		}
		fmt.Fprintf(w, "%s %s/%s\n", verdict, r.Remote, c.Name)
		for _, s := range c.Checks {
			fmt.Fprintf(w, "  - %s\n", s)
		}
		for _, s := range c.Problems {
			fmt.Fprintf(w, "  ! %s\n", s)
		}
	}
	for _, g := range r.Regressions {
		fmt.Fprintf(w, "REGRESSION %s\n", g)
	}
}

// Err is the verdict: an error naming the number of problems.
func (r *RemoteVerifyReport) Err() error {
	if r.failed > 0 {
		return fmt.Errorf("%d problem(s) in %s", r.failed, r.Remote)
	}
	return nil
}

// WritePruneText writes what prune --remote did or would do.
func WritePruneText(w io.Writer, acts []RemotePruneAction, regressions []string, yes bool) {
	for _, a := range acts {
		fmt.Fprintf(w, "%-8s %s (%s)\n", a.Action, a.Name, a.Reason)
	}
	for _, g := range regressions {
		fmt.Fprintf(w, "REGRESSION %s\n", g)
	}
	if !yes {
		fmt.Fprintln(w, "dry run: nothing deleted or extended; re-run with --yes")
	}
}

// WriteCreated writes the summary of a backup just written to path.
func WriteCreated(w io.Writer, path string, m *casino.BackupManifest) {
	fmt.Fprintf(w, "backup written: %s\n", path)
	fmt.Fprintf(w, "  manifest:    %s\n", casino.ManifestPath(path))
	fmt.Fprintf(w, "  signature:   %s (key %s)\n", casino.SignaturePath(path), m.KeyFingerprint)
	if m.Encryption != nil {
		fmt.Fprintf(w, "  encrypted:   age, to %s\n", strings.Join(m.Encryption.Recipients, ", "))
	}
	fmt.Fprintf(w, "  engine:      %s, schema %d, source %s\n", m.Engine, m.SchemaVersion, m.Source)
	fmt.Fprintf(w, "  snapshot_at: %s\n", m.SnapshotAt.Format(time.RFC3339Nano))
	fmt.Fprintf(w, "  size:        %s (%s), sha256 %s\n", HumanBytes(m.SizeBytes), m.Compression, m.SHA256)
	fmt.Fprintf(w, "  duration:    %.1fs\n", m.DurationMS/1000)
	fmt.Fprintf(w, "  rows:        %s\n", FormatCounts(m.RowCounts))
}

// WriteUploaded writes the summary of a backup streamed to the remote url
// (create --remote-only).
func WriteUploaded(w io.Writer, url string, m *casino.BackupManifest, up *s3store.Uploaded) {
	fmt.Fprintf(w, "backup uploaded: %s/%s (no local copy)\n", url, up.Name)
	fmt.Fprintf(w, "  data version: %s, %s in %.1fs\n", up.Data.VersionID, HumanBytes(up.Bytes), up.Duration.Seconds())
	if up.Lock.IsSet() {
		fmt.Fprintf(w, "  locked:       %s until %s\n", up.Lock.Mode, up.Lock.Until.Format(time.RFC3339))
	}
	fmt.Fprintf(w, "  snapshot_at:  %s\n", m.SnapshotAt.Format(time.RFC3339Nano))
	fmt.Fprintf(w, "  rows:         %s\n", FormatCounts(m.RowCounts))
}

// FormatCounts renders row counts as "table=n ..." in casino's table
// order, then any other table by name.
func FormatCounts(c map[string]int64) string {
	var parts []string
	seen := map[string]bool{}
	for _, t := range sqlstore.Tables {
		if n, ok := c[t]; ok {
			parts = append(parts, fmt.Sprintf("%s=%d", t, n))
			seen[t] = true
		}
	}
	var rest []string
	for t, n := range c {
		if !seen[t] {
			rest = append(rest, fmt.Sprintf("%s=%d", t, n))
		}
	}
	sort.Strings(rest)
	return strings.Join(append(parts, rest...), " ")
}

// WriteKeptAside writes the databases restores kept aside (nothing when
// there are none).
func WriteKeptAside(w io.Writer, kept []KeptAside, now time.Time) {
	if len(kept) == 0 {
		return
	}
	fmt.Fprintln(w, "\nkept aside by restores (casino restore --undo swaps the newest back; backup prune --kept-aside removes them):")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tAGE\tSIZE\tENGINE")
	for _, k := range kept {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.Name, HumanAge(now.Sub(k.KeptAt)), HumanBytes(k.SizeBytes), k.Engine)
	}
	tw.Flush()
}

// PruneLocal applies policy to the local backups: every decision, and with
// yes the dropped backups deleted (manifest, signature and file). It stops
// at the first failed delete.
func PruneLocal(entries []Entry, policy retention.Policy, now time.Time, yes bool) (plan []PruneDecision, deleted int, err error) {
	plan = PlanRetention(entries, policy, now)
	if !yes {
		return plan, 0, nil
	}
	for _, d := range plan {
		if d.Keep {
			continue
		}
		if err := Remove(d.Entry); err != nil {
			return plan, deleted, fmt.Errorf("delete %s: %w", d.Entry.Name, err)
		}
		deleted++
	}
	return plan, deleted, nil
}

// WritePruneLocal writes the decisions of PruneLocal, of which the first
// deleted dropped backups were deleted (in plan order, as PruneLocal
// deletes).
func WritePruneLocal(w io.Writer, plan []PruneDecision, deleted int, yes bool) {
	for _, d := range plan {
		verb := "keep  "
		if !d.Keep {
			verb = "delete"
			if deleted > 0 {
				verb = "deleted"
				deleted--
			}
		}
		fmt.Fprintf(w, "%s %s (%s)\n", verb, d.Entry.Name, d.Reason)
	}
	if !yes {
		fmt.Fprintln(w, "dry run: nothing deleted; re-run with --yes to delete")
	}
}

// OpenVerificationStore opens the verification store of the live database
// t, or returns nil when there is none to use: a SQLite file that does not
// exist (it is never created here), a server that does not answer, or a
// schema without the table (before migration 3).
func OpenVerificationStore(ctx context.Context, t sqlstore.Target) *sqlstore.DB {
	if t.Dialect == sqlstore.SQLite {
		if _, err := os.Stat(t.Path); err != nil {
			return nil
		}
	}
	if t.URL == "" {
		return nil
	}
	db, err := sqlstore.Open(ctx, t.URL)
	if err != nil {
		return nil
	}
	if v, err := db.SchemaVersion(ctx); err != nil || v < 3 {
		db.Close()
		return nil
	}
	return db
}
