package dr

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"casino"
)

// DefaultProofDir is where proofs and journals live unless --proof-dir says
// otherwise.
const DefaultProofDir = "docs/ops/restore_drill_proof"

const journalSuffix = ".journal.jsonl"

// Journal entry types.
const (
	TypeDeclare   = "declare"
	TypeState     = "recorded_state" // what contain found before changing anything
	TypeStepStart = "step_start"
	TypeStepEnd   = "step_end"
	TypeStepChild = "step_child" // the pid of the command a step started
	TypeScenario  = "scenario"
	TypeValidate  = "validation"
	TypeClose     = "close"
)

// Severities accepted by declare.
var Severities = []string{"SEV-1", "SEV-2", "SEV-3"}

// Errors returned by the incident store.
var (
	// ErrClosed: the incident is closed and its record read-only.
	ErrClosed = errors.New("incident is closed: its proof and journal are read-only (declare a new incident to continue)")
	// ErrNoIncident: there is no open incident in the proof folder.
	ErrNoIncident = errors.New("no open incident")
	// ErrStepDone: the step already completed; --force runs it again.
	ErrStepDone = errors.New("step already done")
)

// Declaration is the data of the declare entry.
type Declaration struct {
	Severity      string    `json:"severity"`
	IC            string    `json:"incident_commander"`
	Comms         string    `json:"comms_owner"`
	IncidentStart time.Time `json:"incident_start_utc"`
	ImpactStart   time.Time `json:"impact_start_utc"`
	// Template names the proof template's source (a path, or
	// "embedded:template.md"); TemplateText is its exact bytes, so the
	// proof re-renders from the journal alone, whatever happens to the
	// file later. RendererVersion is the version of Render that wrote the
	// proof: verify-proof re-renders with it.
	Template        string `json:"template"`
	TemplateText    string `json:"template_text,omitempty"`
	RendererVersion int    `json:"renderer_version,omitempty"`
	// Drill marks a drill: the proof says DRILL PROOF.
	Drill bool `json:"drill,omitempty"`
	// DrillID is set only on the proof `casino dr drill` writes: the id of
	// its drills row. Such a proof is never the incident other commands act
	// on; a rehearsal declared by hand (declare --drill) is.
	DrillID string `json:"drill_id,omitempty"`
	URL     string `json:"url,omitempty"`
	// VersionBefore is /api/version's version when declared, if --url was
	// given and answered: validate expects it back.
	VersionBefore string `json:"version_before,omitempty"`
	VersionError  string `json:"version_error,omitempty"`
	// VersionSource says where VersionBefore came from when not from
	// /api/version.
	VersionSource string `json:"version_source,omitempty"`
	// VersionPrevious is the previous distinct version in the database's
	// versions history before the running one: Scenario A's rollback
	// target, which validate then expects back. VersionPreviousError says
	// why it is not known.
	VersionPrevious      *casino.VersionRecord `json:"version_previous,omitempty"`
	VersionPreviousError string                `json:"version_previous_error,omitempty"`
	// BaselineP95MS is the latency baseline validate compares with.
	BaselineP95MS float64 `json:"baseline_p95_ms,omitempty"`
	// DataBefore is the service's data summary at declare (--url with the
	// owner's password): the data check's expectation when no restore is
	// journaled.
	DataBefore      *casino.DataSummary `json:"data_before,omitempty"`
	DataBeforeError string              `json:"data_before_error,omitempty"`
	// SentRequestIDs are the ids of the requests declare sent: the log
	// checks leave them out.
	SentRequestIDs []string `json:"sent_request_ids,omitempty"`
	// PITR is the point-in-time recovery configuration in force; it chooses
	// the targets dr close judges against. Nil in journals from before
	// declare recorded it (the plain targets apply).
	PITR *PITRConfig `json:"pitr,omitempty"`
}

// ClockSkew is how far in the future a declared time may lie: the clocks of
// the operator's laptop and of the service disagree by seconds, not hours.
const ClockSkew = time.Minute

// CheckTimes refuses a declaration whose incident or impact start lies in
// the future (an impact start a year ahead once gave a 27,022-hour RPO), or
// whose incident start is zero.
func (d Declaration) CheckTimes(now time.Time) error {
	if d.IncidentStart.IsZero() {
		return errors.New("the incident start must be set")
	}
	if d.IncidentStart.After(now.Add(ClockSkew)) {
		return fmt.Errorf("--incident-start %s is in the future (now %s)", d.IncidentStart.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if d.ImpactStart.After(now.Add(ClockSkew)) {
		return fmt.Errorf("--impact-start %s is in the future (now %s): RPO is measured back from it", d.ImpactStart.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}

// StepStart is the data of a step_start entry: written (and synced) before a
// step changes anything, so an interrupted step is visible.
type StepStart struct {
	Step     string     `json:"step"`
	Kind     string     `json:"kind"` // contain, restore-traffic, login-freeze, run
	Commands [][]string `json:"commands,omitempty"`
	Dir      string     `json:"dir,omitempty"`
	PID      int        `json:"pid"`
	PIDStart string     `json:"pid_start,omitempty"` // with PID, names the process even after pid reuse
	Force    bool       `json:"force,omitempty"`
}

// StepChild is the data of a step_child entry: the process a step started,
// so a resumed incident knows whether a command outlived the killed CLI.
type StepChild struct {
	Step     string `json:"step"`
	PID      int    `json:"pid"`
	PIDStart string `json:"pid_start,omitempty"`
}

// StepEnd is the data of a step_end entry.
type StepEnd struct {
	Step     string    `json:"step"`
	Start    time.Time `json:"start_utc"`
	End      time.Time `json:"end_utc"`
	ExitCode int       `json:"exit_code"`
	Error    string    `json:"error,omitempty"`
	Outputs  []Output  `json:"outputs,omitempty"`
}

// Output is one command run by a step, with its redacted, capped output.
type Output struct {
	Argv      []string  `json:"argv"`
	Start     time.Time `json:"start_utc"`
	End       time.Time `json:"end_utc"`
	ExitCode  int       `json:"exit_code"`
	Stdout    string    `json:"stdout,omitempty"`
	Stderr    string    `json:"stderr,omitempty"`
	Truncated bool      `json:"truncated,omitempty"`
}

// ScenarioDecision is the data of a scenario entry.
type ScenarioDecision struct {
	Scenario string `json:"scenario"`
	Reason   string `json:"reason"`
	Runbook  string `json:"runbook,omitempty"` // the runbook's source
	// RollbackTarget (scenario A) is the previous distinct version from the
	// database's versions history; RollbackError says why it is not known.
	RollbackTarget string `json:"rollback_target,omitempty"`
	RollbackError  string `json:"rollback_error,omitempty"`
	// Rollback is RollbackTarget as a typed record.
	Rollback *casino.VersionRecord `json:"rollback,omitempty"`
}

// Step is where one step stands, folded from its entries.
type Step struct {
	Key        string
	Kind       string
	Started    time.Time
	StartSeq   int
	PID        int
	PIDStart   string
	ChildPID   int
	ChildStart string
	Commands   [][]string
	Dir        string
	Ended      bool
	End        StepEnd
}

// Done reports whether the step completed successfully.
func (s *Step) Done() bool { return s.Ended && s.End.ExitCode == 0 && s.End.Error == "" }

// State is where an incident stands, rebuilt from its journal alone.
type State struct {
	Declaration
	Closed      bool
	ClosedAt    time.Time
	Close       *CloseReport
	Platform    *PlatformState // recorded by the first contain
	Scenario    *ScenarioDecision
	Steps       map[string]*Step
	Order       []string // step keys in first-start order
	Validations []Validation
	LoginFrozen string // "on", "off" or ""
	// Freezes are the login_freeze entries: each change with the path it
	// took, and each check after a restore.
	Freezes []FreezeRecord
	// FreezeProblem, when set, is what to run because a restore left the
	// login freeze in another state than the incident set (cleared by the
	// next successful login-freeze).
	FreezeProblem string
	// SentRequests are the ids of requests other commands sent
	// (restore-traffic's readiness polls), from sent_requests entries.
	SentRequests []string
	// Restores are the typed restore facts dr run captured, in order.
	Restores []RestoreRecord
	Notes    []Note
	Addenda  []Addendum
}

// Fold rebuilds the state of an incident from its entries.
func Fold(entries []Entry) (*State, error) {
	st := &State{Steps: map[string]*Step{}}
	for i, e := range entries {
		if i == 0 && e.Type != TypeDeclare {
			return nil, fmt.Errorf("journal entry 1 is %q, want declare", e.Type)
		}
		switch e.Type {
		case TypeDeclare:
			if err := json.Unmarshal(e.Data, &st.Declaration); err != nil {
				return nil, err
			}
		case TypeState:
			var ps PlatformState
			if err := json.Unmarshal(e.Data, &ps); err != nil {
				return nil, err
			}
			if st.Platform == nil {
				st.Platform = &ps
			}
		case TypeStepStart:
			var d StepStart
			if err := json.Unmarshal(e.Data, &d); err != nil {
				return nil, err
			}
			if _, ok := st.Steps[d.Step]; !ok {
				st.Order = append(st.Order, d.Step)
			}
			st.Steps[d.Step] = &Step{Key: d.Step, Kind: d.Kind, Started: e.TS, StartSeq: e.Seq, PID: d.PID, PIDStart: d.PIDStart, Commands: d.Commands, Dir: d.Dir}
		case TypeStepChild:
			var d StepChild
			if err := json.Unmarshal(e.Data, &d); err != nil {
				return nil, err
			}
			if s, ok := st.Steps[d.Step]; ok {
				s.ChildPID, s.ChildStart = d.PID, d.PIDStart
			}
		case TypeStepEnd:
			var d StepEnd
			if err := json.Unmarshal(e.Data, &d); err != nil {
				return nil, err
			}
			if s, ok := st.Steps[d.Step]; ok {
				s.Ended, s.End = true, d
				if s.Kind == "login-freeze" && s.Done() {
					st.LoginFrozen = strings.TrimPrefix(d.Step, "login-freeze ")
				}
			}
		case TypeScenario:
			var d ScenarioDecision
			if err := json.Unmarshal(e.Data, &d); err != nil {
				return nil, err
			}
			st.Scenario = &d
		case TypeValidate:
			var v Validation
			if err := json.Unmarshal(e.Data, &v); err != nil {
				return nil, err
			}
			st.Validations = append(st.Validations, v)
		case TypeRestore:
			var r RestoreRecord
			if err := json.Unmarshal(e.Data, &r); err != nil {
				return nil, err
			}
			st.Restores = append(st.Restores, r)
		case TypeFreeze:
			var f FreezeRecord
			if err := json.Unmarshal(e.Data, &f); err != nil {
				return nil, err
			}
			st.Freezes = append(st.Freezes, f)
			switch {
			case f.Trigger == FreezeTriggerRestore && !f.OK:
				st.FreezeProblem = f.Remedy
			case f.OK:
				st.FreezeProblem = ""
			}
		case TypeSentRequests:
			var d SentRequests
			if err := json.Unmarshal(e.Data, &d); err != nil {
				return nil, err
			}
			st.SentRequests = append(st.SentRequests, d.IDs...)
		case TypeNote:
			var n Note
			if err := json.Unmarshal(e.Data, &n); err != nil {
				return nil, err
			}
			st.Notes = append(st.Notes, n)
		case TypeAddendum:
			var a Addendum
			if err := json.Unmarshal(e.Data, &a); err != nil {
				return nil, err
			}
			st.Addenda = append(st.Addenda, a)
		case TypeClose:
			var c CloseReport
			if err := json.Unmarshal(e.Data, &c); err != nil {
				return nil, err
			}
			st.Closed, st.ClosedAt, st.Close = true, e.TS, &c
		}
	}
	return st, nil
}

// Interrupted returns the steps that started and never ended, with whether
// the process that ran them still lives (it may still be running).
func (st *State) Interrupted() []*Step {
	var out []*Step
	for _, k := range st.Order {
		if s := st.Steps[k]; !s.Ended {
			out = append(out, s)
		}
	}
	return out
}

// ProcessAlive reports whether pid names a live (not zombie) process on
// this host.
func ProcessAlive(pid int) bool {
	return ProcessAliveSince(pid, "")
}

// ProcessAliveSince is ProcessAlive for the process that started at start
// (ProcStart's value); a different process that reused the pid is not it.
func ProcessAliveSince(pid int, start string) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	state, st := procStat(pid)
	if state == "Z" {
		return false
	}
	return start == "" || st == "" || st == start
}

// ProcStart returns the start time of pid (clock ticks since boot, from
// /proc/PID/stat), or "" where /proc is not available.
func ProcStart(pid int) string {
	_, st := procStat(pid)
	return st
}

func procStat(pid int) (state, start string) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", ""
	}
	// comm (field 2) may hold spaces and parentheses: fields restart after
	// the last ')'. state is field 3, starttime field 22.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return "", ""
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return "", ""
	}
	return f[0], f[19]
}

// StillRunning reports whether an unended step's CLI, or the command it
// started, is still alive: such a step must not be started again.
func (s *Step) StillRunning() (who string, pid int, alive bool) {
	if s.Ended {
		return "", 0, false
	}
	if ProcessAliveSince(s.PID, s.PIDStart) && s.PID != os.Getpid() {
		return "casino dr", s.PID, true
	}
	if ProcessAliveSince(s.ChildPID, s.ChildStart) {
		return "its command", s.ChildPID, true
	}
	return "", 0, false
}

// Incident is one incident's record: its proof file and the journal beside it.
type Incident struct {
	Dir     string
	ID      string // e.g. 2026-11-29 or 2026-11-29-2
	Entries []Entry
	State   *State
	Red     *Redactor
	// Now is the clock; tests may set it.
	Now func() time.Time
	// Mirror, when set, receives the journal and proof after every append
	// (see MirrorNow); MirrorFailed hears of each failure to mirror.
	Mirror       Mirror
	MirrorFailed func(error)

	// size and lines are how much of the journal file Entries hold: Append
	// reads only what lies beyond, which other dr processes appended.
	size  int64
	lines int
	// reads counts whole-journal reads: one per command (Load), the tests
	// hold every command to that.
	reads int
}

// ProofPath is the Markdown proof file.
func (in *Incident) ProofPath() string { return filepath.Join(in.Dir, in.ID+".md") }

// JournalPath is the journal beside the proof.
func (in *Incident) JournalPath() string { return filepath.Join(in.Dir, in.ID+journalSuffix) }

func (in *Incident) now() time.Time {
	if in.Now != nil {
		return in.Now().UTC()
	}
	return time.Now().UTC()
}

// Declare creates a new incident in dir: the proof from the template,
// marked INCIDENT PROOF, and the journal's first entry, stamped now.
func Declare(dir string, template Source, d Declaration, red *Redactor, now time.Time) (*Incident, error) {
	if d.ImpactStart.IsZero() {
		d.ImpactStart = d.IncidentStart
	}
	if err := d.CheckTimes(now); err != nil {
		return nil, err
	}
	base := d.IncidentStart.UTC().Format("2006-01-02")
	return declare(dir, func(n int) (string, bool) {
		if n > 1 {
			return fmt.Sprintf("%s-%d", base, n), true
		}
		return base, true
	}, template, d, red, now)
}

// DeclareNamed is Declare with the record named id rather than by date: a
// drill's proof carries the drill's id. It refuses (os.ErrExist) when a
// record of that name exists.
func DeclareNamed(dir, id string, template Source, d Declaration, red *Redactor, now time.Time) (*Incident, error) {
	if d.ImpactStart.IsZero() {
		d.ImpactStart = d.IncidentStart
	}
	if err := d.CheckTimes(now); err != nil {
		return nil, err
	}
	if id == "" || id != filepath.Base(id) || strings.HasPrefix(id, ".") {
		return nil, fmt.Errorf("record name %q: want a plain file name", id)
	}
	in, err := declare(dir, func(n int) (string, bool) { return id, n == 1 }, template, d, red, now)
	if err == nil && in == nil {
		return nil, fmt.Errorf("record %s in %s: %w", id, dir, os.ErrExist)
	}
	return in, err
}

// declare claims the first free name that names(1), names(2)... gives (ok
// false: no more names) and journals the declaration; nil, nil when every
// name was taken.
func declare(dir string, names func(n int) (string, bool), template Source, d Declaration, red *Redactor, now time.Time) (*Incident, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var in *Incident
	for n := 1; ; n++ {
		id, ok := names(n)
		if !ok {
			return nil, nil
		}
		cand := &Incident{Dir: dir, ID: id, Red: red}
		// O_EXCL on the proof claims the name even against a concurrent declare.
		f, err := os.OpenFile(cand.ProofPath(), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(cand.JournalPath()); err == nil {
			f.Close()
			continue
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
		in = cand
		break
	}
	d.Template, d.TemplateText, d.RendererVersion = template.Name, string(template.Text), RendererVersion
	// The declare entry carries the moment of declaration.
	in.Now = func() time.Time { return now }
	err := in.Append(TypeDeclare, d)
	in.Now = nil
	if err != nil {
		return nil, err
	}
	return in, nil
}

// proofHead is the top of a proof: the INCIDENT (or DRILL) PROOF banner and
// the journaled template with the declaration's fields filled in.
func (in *Incident) proofHead() string {
	d := in.State.Declaration
	kind := "INCIDENT PROOF"
	if d.Drill {
		kind = "DRILL PROOF"
	}
	banner := fmt.Sprintf("# %s\n\n> **%s** `%s`. Generated by `casino dr declare` from `%s`; everything in\n> this file is rendered from `%s` and re-rendered by every `casino dr` command.\n\n",
		kind, kind, in.ID, d.Template, filepath.Base(in.JournalPath()))
	return banner + fillTemplate(d.TemplateText, in.ID, d)
}

// Open finds the incident to act on in dir: the one named by id (an ID, a
// proof path or a journal path), or else the only open one.
func Open(dir, id string, red *Redactor) (*Incident, error) {
	if id != "" {
		id = filepath.Base(id)
		id = strings.TrimSuffix(strings.TrimSuffix(id, journalSuffix), ".md")
		in := &Incident{Dir: dir, ID: id, Red: red}
		if err := in.Load(); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("incident %q: no journal %s", id, in.JournalPath())
			}
			return nil, err
		}
		return in, nil
	}
	ids, err := List(dir)
	if err != nil {
		return nil, err
	}
	var open []*Incident
	for _, id := range ids {
		in := &Incident{Dir: dir, ID: id, Red: red}
		if err := in.Load(); err != nil {
			return nil, fmt.Errorf("incident %s: %w", id, err)
		}
		// A scheduled drill's proof (casino dr drill) is not an incident:
		// one running, or left open by a killed drill until the next drill
		// closes it, is never the incident other commands act on. A
		// rehearsal declared by hand with --drill is.
		if !in.State.Closed && in.State.DrillID == "" {
			open = append(open, in)
		}
	}
	switch len(open) {
	case 0:
		return nil, fmt.Errorf("%w in %s: run 'casino dr declare' first, or name a closed one with --incident", ErrNoIncident, dir)
	case 1:
		return open[0], nil
	}
	var names []string
	for _, in := range open {
		names = append(names, in.ID)
	}
	return nil, fmt.Errorf("several open incidents in %s (%s): pass --incident ID", dir, strings.Join(names, ", "))
}

// OpenLatest opens the incident named by id, or else the newest in dir,
// open or closed (addenda come after close).
func OpenLatest(dir, id string, red *Redactor) (*Incident, error) {
	if id == "" {
		ids, err := List(dir)
		if err != nil || len(ids) == 0 {
			return nil, fmt.Errorf("no incident in %s", dir)
		}
		id = ids[len(ids)-1]
	}
	return Open(dir, id, red)
}

// List returns the incident IDs in dir (those with a journal), oldest first.
func List(dir string) ([]string, error) {
	m, err := filepath.Glob(filepath.Join(dir, "*"+journalSuffix))
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, p := range m {
		ids = append(ids, strings.TrimSuffix(filepath.Base(p), journalSuffix))
	}
	sort.Slice(ids, func(i, j int) bool { return idLess(ids[i], ids[j]) })
	return ids, nil
}

func idLess(a, b string) bool {
	if a[:min(10, len(a))] != b[:min(10, len(b))] {
		return a < b
	}
	na, nb := 1, 1
	if len(a) > 11 {
		na, _ = strconv.Atoi(a[11:])
	}
	if len(b) > 11 {
		nb, _ = strconv.Atoi(b[11:])
	}
	return na < nb
}

// Load reads and verifies the journal and folds it into State.
func (in *Incident) Load() error {
	b, err := os.ReadFile(in.JournalPath())
	if err != nil {
		return err
	}
	in.reads++
	entries, err := ParseJournal(b)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return fmt.Errorf("journal %s is empty", in.JournalPath())
	}
	st, err := Fold(entries)
	if err != nil {
		return err
	}
	in.Entries, in.State = entries, st
	in.size, in.lines = int64(len(b)), bytes.Count(b, []byte("\n"))
	return nil
}

// catchUp reads, from the journal open in f (locked by the caller), the
// entries other processes appended since this incident last read or wrote
// it, verifies that they continue the chain, and folds them in. A journal
// that shrank was cut: nothing may be appended to it.
func (in *Incident) catchUp(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if in.size == 0 && len(in.Entries) > 0 {
		in.Entries = nil // entries not read from this file: take the file's
	}
	switch {
	case fi.Size() == in.size:
		return nil
	case fi.Size() < in.size:
		return fmt.Errorf("the journal is %d bytes, shorter than the %d this command read: it was cut", fi.Size(), in.size)
	}
	tail := make([]byte, fi.Size()-in.size)
	if _, err := f.ReadAt(tail, in.size); err != nil {
		return err
	}
	var last *Entry
	if n := len(in.Entries); n > 0 {
		last = &in.Entries[n-1]
	}
	more, err := parseJournal(tail, last, in.lines)
	if err != nil {
		return err
	}
	in.Entries = append(in.Entries, more...)
	in.size, in.lines = fi.Size(), in.lines+bytes.Count(tail, []byte("\n"))
	if len(in.Entries) > 0 {
		if in.State, err = Fold(in.Entries); err != nil {
			return err
		}
	}
	return nil
}

// Writable returns ErrClosed for a closed incident.
func (in *Incident) Writable() error {
	if in.State != nil && in.State.Closed {
		return fmt.Errorf("incident %s: %w", in.ID, ErrClosed)
	}
	return nil
}

// Append redacts data, appends it to the journal chained to the last entry,
// and re-renders the proof. It holds an exclusive lock on the journal
// throughout and first reads what lies beyond the part it already holds:
// another dr process (a second terminal running dr run while a restore runs
// in the first) may have appended since this one loaded it, and the chain
// must continue from the true last entry. Only those new bytes are read, so
// a command reads its journal whole once, however many entries it appends.
func (in *Incident) Append(typ string, data any) error {
	return in.appendBuilt(typ, func(*Entry) (any, error) { return data, nil })
}

// appendBuilt is Append with the data built under the lock from the true
// last entry (nil for none): a signature must name the entry it follows.
func (in *Incident) appendBuilt(typ string, build func(last *Entry) (any, error)) error {
	f, err := os.OpenFile(in.JournalPath(), os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open journal: %w", err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock journal: %w", err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	if err := in.catchUp(f); err != nil {
		return fmt.Errorf("refusing to append to %s: %w", in.JournalPath(), err)
	}
	if err := in.Writable(); err != nil && !postClose[typ] {
		return err
	}
	var last *Entry
	if n := len(in.Entries); n > 0 {
		last = &in.Entries[n-1]
	}
	data, err := build(last)
	if err != nil {
		return err
	}
	red, err := redactValue(in.Red, data)
	if err != nil {
		return err
	}
	e, err := appendEntry(f, last, typ, red, in.now())
	if err != nil {
		return fmt.Errorf("append to journal: %w", err)
	}
	in.Entries = append(in.Entries, e)
	in.size, in.lines = in.size+int64(len(e.Raw))+1, in.lines+1
	st, err := Fold(in.Entries)
	if err != nil {
		return err
	}
	in.State = st
	if err := in.Render(); err != nil {
		return err
	}
	in.mirrorAfterAppend()
	return nil
}
