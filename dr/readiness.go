package dr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"casino"
)

// ReadinessScenario is the scenario a drill rehearses (a database restore),
// whose targets the readiness page compares with.
const ReadinessScenario = "B"

// maxProofBytes bounds a proof served to the console.
const maxProofBytes = 8 << 20

// maxOpenIncidentScan bounds how many of the newest journals the readiness
// status loads (each load verifies a hash chain).
const maxOpenIncidentScan = 20

// readinessCacheFor is how long one read of the drills and verification
// tables serves scrapes: a scrape every second costs one read per 10 s.
const readinessCacheFor = 10 * time.Second

// Readiness is a deployment's DR readiness, as casino serve reads it from
// the drills table, the verification store, the backups and the proof
// folder. It answers casino.DRStatusService and exports the readiness
// metrics (Collector).
type Readiness struct {
	Drills        casino.DrillStore
	Verifications casino.VerificationStore
	// Targets are the RTO/RPO targets in force and TargetsSource where
	// they came from.
	Targets       *Targets
	TargetsSource string
	// PITR is serve's point-in-time recovery setting: PITROff (or ""),
	// PITRLitestream or PITRWAL. It chooses the targets in force.
	PITR string
	// Local returns the newest trusted backup of serve's backup folder.
	// Remote returns the remote's; nil when serve has no remote settings.
	Local  func(ctx context.Context) casino.BackupFreshness
	Remote func(ctx context.Context) casino.BackupFreshness
	// ProofDir is the folder of incident and drill proofs serve may read
	// ("" when none).
	ProofDir string
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	mu   sync.Mutex
	snap *readinessSnapshot
}

var _ casino.DRStatusService = (*Readiness)(nil)

func (r *Readiness) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// pitrConfig is serve's PITR setting as a configuration Targets.For reads.
func (r *Readiness) pitrConfig() *PITRConfig {
	mode := r.PITR
	if mode == "" {
		mode = PITROff
	}
	return &PITRConfig{Mode: mode, From: "CASINO_PITR"}
}

// TargetList returns every scenario's targets in force for serve's PITR
// setting (Targets.For: a scenario's pitr targets when PITR is on and the
// file has them), sorted by scenario.
func (r *Readiness) TargetList() []casino.DRTarget {
	if r.Targets == nil {
		return nil
	}
	var out []casino.DRTarget
	for k := range r.Targets.Scenarios {
		s, _, _ := r.Targets.For(k, r.pitrConfig())
		t := casino.DRTarget{Scenario: k, Name: s.Name}
		if d, err := time.ParseDuration(s.RTO); err == nil {
			t.RTOSeconds = d.Seconds()
		}
		if s.RPO != nil {
			if d, err := time.ParseDuration(*s.RPO); err == nil {
				v := d.Seconds()
				t.RPOSeconds = &v
			}
		}
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Scenario < out[j].Scenario })
	return out
}

// DRStatus implements casino.DRStatusService.
func (r *Readiness) DRStatus(ctx context.Context) (*casino.DRStatus, error) {
	now := r.now().UTC()
	st := &casino.DRStatus{
		GeneratedAt: now, Scenario: ReadinessScenario, Targets: r.TargetList(), TargetsSource: r.TargetsSource,
		PITR: r.PITR, OpenIncidents: []casino.OpenIncident{}, Trend: []casino.DrillPoint{},
	}
	st.PITR = r.pitrConfig().Mode
	for _, t := range st.Targets {
		if t.Scenario == ReadinessScenario {
			st.RTOSeconds, st.RPOSeconds = t.RTOSeconds, t.RPOSeconds
		}
	}
	if r.Local != nil {
		l := r.Local(ctx)
		st.Local = &l
		st.Compared = l.Where
	}
	if r.Remote != nil {
		rm := r.Remote(ctx)
		st.Remote = &rm
		st.Compared = rm.Where
	}

	drills, err := r.Drills.Drills(ctx, casino.DRTrendDrills)
	if err != nil {
		return nil, err
	}
	if len(drills) > 0 {
		d := drills[0]
		st.LastDrill = &d
		st.ProofReadable = r.proofFile(d) != ""
	}
	for i := len(drills) - 1; i >= 0; i-- {
		d := drills[i]
		st.Trend = append(st.Trend, casino.DrillPoint{ID: d.ID, StartedAt: d.StartedAt, Verdict: d.Verdict, RecoverySeconds: d.RecoverySeconds, BackupAgeSeconds: d.BackupAgeSeconds})
	}
	if d, ok, err := r.Drills.LastSuccessfulDrill(ctx); err != nil {
		return nil, err
	} else if ok {
		st.LastSuccessfulDrill = &d
	}
	if at, ok, err := r.lastVerified(ctx); err != nil {
		return nil, err
	} else if ok {
		st.LastVerifiedAt = &at
	}
	st.OpenIncidents, st.IncidentsError = r.openIncidents()
	return st, nil
}

// lastVerified is the newest successful verification in the store.
func (r *Readiness) lastVerified(ctx context.Context) (time.Time, bool, error) {
	if r.Verifications == nil {
		return time.Time{}, false, nil
	}
	vs, err := r.Verifications.LastVerifications(ctx)
	if err != nil {
		return time.Time{}, false, err
	}
	var newest time.Time
	for _, v := range vs {
		if v.OK && v.VerifiedAt.After(newest) {
			newest = v.VerifiedAt
		}
	}
	return newest, !newest.IsZero(), nil
}

// openIncidents lists the incidents of the proof folder that are declared
// and not closed; drill journals are not incidents.
func (r *Readiness) openIncidents() ([]casino.OpenIncident, string) {
	out := []casino.OpenIncident{}
	if r.ProofDir == "" {
		return out, "serve has no proof folder (set CASINO_DR_PROOF_DIR)"
	}
	if fi, err := os.Stat(r.ProofDir); err != nil || !fi.IsDir() {
		return out, fmt.Sprintf("the proof folder %s is not readable by serve", r.ProofDir)
	}
	ids, err := List(r.ProofDir)
	if err != nil {
		return out, fmt.Sprintf("the proof folder %s cannot be listed", r.ProofDir)
	}
	if len(ids) > maxOpenIncidentScan {
		ids = ids[len(ids)-maxOpenIncidentScan:]
	}
	var bad []string
	for _, id := range ids {
		in := &Incident{Dir: r.ProofDir, ID: id}
		if err := in.Load(); err != nil {
			bad = append(bad, id)
			continue
		}
		if in.State.Closed || in.State.Drill {
			continue
		}
		oi := casino.OpenIncident{ID: id, Severity: in.State.Severity, IncidentStart: in.State.IncidentStart}
		if in.State.Scenario != nil {
			oi.Scenario = in.State.Scenario.Scenario
		}
		out = append(out, oi)
	}
	if len(bad) > 0 {
		return out, fmt.Sprintf("%d journal(s) do not verify: %v (run casino dr verify-proof)", len(bad), bad)
	}
	return out, ""
}

var (
	drillIDPattern   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	proofNamePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,128}\.md$`)
)

// proofFile is the base name of d's proof when the proof folder holds it as
// a regular file, else "".
func (r *Readiness) proofFile(d casino.Drill) string {
	if r.ProofDir == "" || d.ProofPath == "" {
		return ""
	}
	name := baseName(d.ProofPath)
	if !proofNamePattern.MatchString(name) {
		return ""
	}
	root, err := os.OpenRoot(r.ProofDir)
	if err != nil {
		return ""
	}
	defer root.Close()
	fi, err := root.Lstat(name)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > maxProofBytes {
		return ""
	}
	return name
}

// baseName is the last element of a slash-separated path (proof paths are
// recorded by the drill's host, always with slashes).
func baseName(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[i+1:]
		}
	}
	return p
}

// DrillProof implements casino.DRStatusService. Only the proof a drill row
// names is served, by its base name, opened through an os.Root of the
// proof folder: no path from the request reaches the file system, and a
// symlink out of the folder does not open.
func (r *Readiness) DrillProof(ctx context.Context, id string) (io.ReadCloser, error) {
	if !drillIDPattern.MatchString(id) {
		return nil, casino.Errorf(casino.EINVALID, "Invalid drill id.")
	}
	drills, err := r.Drills.Drills(ctx, 1000)
	if err != nil {
		return nil, err
	}
	for _, d := range drills {
		if d.ID != id {
			continue
		}
		name := r.proofFile(d)
		if name == "" {
			return nil, casino.Errorf(casino.ENOTFOUND, "The proof of drill %s is not in this server's proof folder.", id)
		}
		root, err := os.OpenRoot(r.ProofDir)
		if err != nil {
			return nil, casino.Errorf(casino.ENOTFOUND, "The proof of drill %s is not in this server's proof folder.", id)
		}
		defer root.Close()
		f, err := root.Open(name)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			return nil, casino.Errorf(casino.ENOTFOUND, "The proof of drill %s is not in this server's proof folder.", id)
		} else if err != nil {
			return nil, fmt.Errorf("open proof: %w", err)
		}
		return struct {
			io.Reader
			io.Closer
		}{io.LimitReader(f, maxProofBytes), f}, nil
	}
	return nil, casino.Errorf(casino.ENOTFOUND, "No drill %s.", id)
}

// readinessSnapshot is one read of the tables the metrics report.
type readinessSnapshot struct {
	at       time.Time
	ok       bool
	last     *casino.Drill // newest finished drill
	success  *casino.Drill
	verified time.Time
}

func (r *Readiness) snapshot() *readinessSnapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if r.snap != nil && now.Sub(r.snap.at) < readinessCacheFor && now.Sub(r.snap.at) >= 0 {
		return r.snap
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s := &readinessSnapshot{at: now}
	r.snap = s
	drills, err := r.Drills.Drills(ctx, 50)
	if err != nil {
		return s
	}
	for i := range drills {
		if drills[i].Verdict != casino.DrillRunning {
			s.last = &drills[i]
			break
		}
	}
	d, ok, err := r.Drills.LastSuccessfulDrill(ctx)
	if err != nil {
		return s
	}
	if ok {
		s.success = &d
	}
	if s.verified, _, err = r.lastVerified(ctx); err != nil {
		return s
	}
	s.ok = true
	return s
}

// DrillVerdictLabels are the values of casino_drill_last_verdict's verdict
// label: the final verdicts. A verdict outside them (a hand-edited row)
// reports as FAILED: anything but SUCCESSFUL is not a success.
var DrillVerdictLabels = []casino.DrillVerdict{casino.DrillSuccessful, casino.DrillFailed, casino.DrillTimedOut}

// readinessCollector exports the readiness metrics.
type readinessCollector struct {
	r                                           *Readiness
	up, success, duration, verdict, verified    *prometheus.Desc
	rto, rpo, pitr, lastStarted, recoveryTarget *prometheus.Desc
}

// Collector returns the readiness metrics, read from the drills table and
// the verification store at most every 10 s (on scrape):
//
//	casino_dr_readiness_up                         1 when the last read of the drills and verification tables worked
//	casino_drill_last_success_timestamp_seconds    when the newest SUCCESSFUL drill finished (0: none)
//	casino_drill_last_timestamp_seconds            when the newest finished drill started (0: none)
//	casino_drill_last_duration_seconds             the newest finished drill's recovery time, select through validate
//	casino_drill_last_verdict{verdict}             1 for the newest finished drill's verdict, 0 for the others
//	casino_backup_last_verified_timestamp_seconds  the newest successful backup verification (verify, deep verify, drill)
//	casino_dr_target_rto_seconds{scenario}         RTO target in force per scenario
//	casino_dr_target_rpo_seconds{scenario}         RPO target in force per scenario (none for a scenario without one)
//	casino_dr_pitr_mode{mode}                      1 for serve's PITR setting (off, litestream, wal), 0 for the others
//
// The drill and verification series are left out when the read failed
// (casino_dr_readiness_up 0), so an alert never reads a made-up 0.
func (r *Readiness) Collector() prometheus.Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &readinessCollector{
		r:           r,
		up:          d("casino_dr_readiness_up", "1 when serve's last read of the drills table and the verification store worked, else 0."),
		success:     d("casino_drill_last_success_timestamp_seconds", "Unix time the newest SUCCESSFUL restore drill finished; 0 if none."),
		lastStarted: d("casino_drill_last_timestamp_seconds", "Unix time the newest finished restore drill started; 0 if none."),
		duration:    d("casino_drill_last_duration_seconds", "Recovery time (select through validate) of the newest finished restore drill; 0 if none. Compare with casino_dr_target_rto_seconds."),
		verdict:     d("casino_drill_last_verdict", "1 for the verdict of the newest finished restore drill (SUCCESSFUL, FAILED or TIMED_OUT), 0 for the others; all 0 before the first drill.", "verdict"),
		verified:    d("casino_backup_last_verified_timestamp_seconds", "Unix time of the newest successful backup verification (verify, deep verify or drill); 0 if none."),
		rto:         d("casino_dr_target_rto_seconds", "RTO target in force for the scenario (docs/ops/dr_targets.json).", "scenario"),
		rpo:         d("casino_dr_target_rpo_seconds", "RPO target in force for the scenario (docs/ops/dr_targets.json); absent for a scenario that restores no data.", "scenario"),
		pitr:        d("casino_dr_pitr_mode", "1 for serve's point-in-time recovery setting CASINO_PITR (off, litestream or wal), 0 for the others: alert rules pick the recovery point to watch by it.", "mode"),
	}
}

func (c *readinessCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.success, c.lastStarted, c.duration, c.verdict, c.verified, c.rto, c.rpo, c.pitr} {
		ch <- d
	}
}

func (c *readinessCollector) Collect(ch chan<- prometheus.Metric) {
	g := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	unix := func(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
	for _, t := range c.r.TargetList() {
		g(c.rto, t.RTOSeconds, t.Scenario)
		if t.RPOSeconds != nil {
			g(c.rpo, *t.RPOSeconds, t.Scenario)
		}
	}
	mode := c.r.pitrConfig().Mode
	for _, m := range PITRModes {
		x := 0.0
		if m == mode {
			x = 1
		}
		g(c.pitr, x, m)
	}
	s := c.r.snapshot()
	if !s.ok {
		g(c.up, 0)
		return
	}
	g(c.up, 1)
	var success, started, duration, verified float64
	if s.success != nil {
		at := s.success.StartedAt
		if s.success.FinishedAt != nil {
			at = *s.success.FinishedAt
		}
		success = unix(at)
	}
	var verdict casino.DrillVerdict
	if s.last != nil {
		started, duration, verdict = unix(s.last.StartedAt), s.last.RecoverySeconds, s.last.Verdict
		known := false
		for _, v := range DrillVerdictLabels {
			known = known || v == verdict
		}
		if !known {
			verdict = casino.DrillFailed
		}
	}
	if !s.verified.IsZero() {
		verified = unix(s.verified)
	}
	g(c.success, success)
	g(c.lastStarted, started)
	g(c.duration, duration)
	for _, v := range DrillVerdictLabels {
		x := 0.0
		if v == verdict {
			x = 1
		}
		g(c.verdict, x, string(v))
	}
	g(c.verified, verified)
}
