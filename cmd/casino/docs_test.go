package main

// Tests that keep the operator docs true: docs/ops/*.md, deploy/README.md and
// the RTO/RPO targets. They are what an operator follows at 03:00, so every
// link resolves, every repository path exists, every casino command line
// parses, the targets in prose equal the targets in data, and Scenario B runs
// from the runbook's own command blocks.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode"

	"casino/backup"
	"casino/dr"
	"casino/internal/testpg"
	"casino/sqlstore"

	"sigs.k8s.io/yaml"
)

// repoRoot is the repository root; go test runs in cmd/casino.
var repoRoot = filepath.Join("..", "..")

// docFiles lists the markdown files the doc tests cover: everything under
// docs/, and deploy/README.md.
func docFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(filepath.Join(repoRoot, "docs"), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".md") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, filepath.Join(repoRoot, "deploy", "README.md"))
	return files
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func rel(p string) string {
	r, err := filepath.Rel(repoRoot, p)
	if err != nil {
		return p
	}
	return r
}

// mdBlock is a fenced code block: its info string, the marker comment just
// before it (<!-- … -->, if any) and its lines.
type mdBlock struct {
	Lang   string
	Marker string
	Line   int // line number of the opening fence
	Text   string
}

// mdParse splits markdown into its fenced code blocks and its prose lines
// (code blocks blanked out, so links and inline code are found only in prose).
func mdParse(src string) (blocks []mdBlock, prose []string) {
	lines := strings.Split(src, "\n")
	var cur *mdBlock
	var body []string
	fence := ""
	lastComment := ""
	for i, line := range lines {
		trim := strings.TrimSpace(line)
		if cur == nil {
			if strings.HasPrefix(trim, "```") || strings.HasPrefix(trim, "~~~") {
				fence = trim[:3]
				cur = &mdBlock{Lang: strings.Fields(trim[3:] + " x")[0], Marker: lastComment, Line: i + 1}
				if strings.TrimSpace(trim[3:]) == "" {
					cur.Lang = ""
				}
				body = nil
				prose = append(prose, "")
				continue
			}
			if m := markerRe.FindStringSubmatch(trim); m != nil {
				lastComment = m[1]
			} else if trim != "" {
				lastComment = ""
			}
			prose = append(prose, line)
			continue
		}
		prose = append(prose, "")
		if strings.HasPrefix(trim, fence) {
			cur.Text = strings.Join(body, "\n")
			blocks = append(blocks, *cur)
			cur = nil
			lastComment = ""
			continue
		}
		body = append(body, line) // list indentation is trimmed by the users

	}
	return blocks, prose
}

var markerRe = regexp.MustCompile(`^<!--\s*(.*?)\s*-->$`)

// inlineCodeRe matches the `code spans` of a prose line.
var inlineCodeRe = regexp.MustCompile("`([^`]+)`")

// ---------------------------------------------------------------------------
// Links

// slug is GitHub's heading anchor: lower case, punctuation dropped, spaces
// to hyphens.
func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

// anchors returns the heading anchors of a markdown file.
func anchors(src string) map[string]bool {
	_, prose := mdParse(src)
	out := map[string]bool{}
	count := map[string]int{}
	for _, line := range prose {
		m := regexp.MustCompile(`^#{1,6}\s+(.*?)\s*#*$`).FindStringSubmatch(line)
		if m == nil {
			continue
		}
		s := slug(m[1])
		if n := count[s]; n > 0 {
			out[fmt.Sprintf("%s-%d", s, n)] = true
		} else {
			out[s] = true
		}
		count[s]++
	}
	return out
}

var linkRe = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)

func TestDocsLinksResolve(t *testing.T) {
	checked := 0
	for _, f := range docFiles(t) {
		src := mustRead(t, f)
		_, prose := mdParse(src)
		for n, line := range prose {
			// Links inside inline code are not links.
			line = inlineCodeRe.ReplaceAllStringFunc(line, func(s string) string {
				if strings.HasPrefix(s, "`[") {
					return ""
				}
				return s
			})
			for _, m := range linkRe.FindAllStringSubmatch(line, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				checked++
				path, frag, _ := strings.Cut(target, "#")
				dest := f
				if path != "" {
					dest = filepath.Join(filepath.Dir(f), path)
					if _, err := os.Stat(dest); err != nil {
						t.Errorf("%s:%d: link %q: %s does not exist", rel(f), n+1, target, rel(dest))
						continue
					}
				}
				if frag != "" && strings.HasSuffix(dest, ".md") {
					if !anchors(mustRead(t, dest))[frag] {
						t.Errorf("%s:%d: link %q: %s has no heading #%s", rel(f), n+1, target, rel(dest), frag)
					}
				}
			}
		}
	}
	if checked < 20 {
		t.Errorf("checked only %d relative links; the ops docs have more", checked)
	}
}

// ---------------------------------------------------------------------------
// Repository paths

// repoPathRe finds what looks like a path into this repository: a top-level
// folder or root file, then more path.
var repoPathRe = regexp.MustCompile(`(?:^|[\s(\x60"'=\[])((?:\./)?(?:docs|deploy|scripts|cmd|api|sqlstore|internal|logging|adminui|dr|backup|auth|bench)/[A-Za-z0-9_./-]*|docker-compose\.prod\.yml|Dockerfile|\.dockerignore|\.env\.example|go\.mod)`)

// TestDocsRepoPathsExist: every repository path a doc mentions exists.
// Placeholders (YYYY, <…>, …) and Kubernetes references such as
// deploy/backend (checked against the built manifests by package deploy) are
// not paths.
func TestDocsRepoPathsExist(t *testing.T) {
	checked := 0
	for _, f := range docFiles(t) {
		sc := bufio.NewScanner(strings.NewReader(mustRead(t, f)))
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			for _, m := range repoPathRe.FindAllStringSubmatch(line, -1) {
				p := strings.TrimRight(m[1], ".,:;")
				p = strings.TrimPrefix(p, "./")
				if strings.Contains(p, "YYYY") || strings.Contains(p, "<") || strings.Contains(p, "…") || strings.Contains(p, "*") {
					continue
				}
				dir, name := filepath.Split(strings.TrimSuffix(p, "/"))
				if dir == "deploy/" && !strings.Contains(name, ".") && strings.Contains(line, "kubectl") || dir == "deploy/" && (name == "backend" || name == "frontend-admin" || name == "casino-ops") {
					continue // a Kubernetes Deployment, not a file
				}
				checked++
				if _, err := os.Stat(filepath.Join(repoRoot, p)); err != nil {
					t.Errorf("%s:%d: mentions %s, which is not in the repository", rel(f), n, p)
				}
			}
		}
	}
	if checked < 20 {
		t.Errorf("checked only %d paths; the ops docs mention more", checked)
	}
}

// ---------------------------------------------------------------------------
// casino command lines

// shellSplit splits a shell command line into words: quotes and backslashes
// as the shell does, no expansion. Placeholders like <URL> stay words.
func shellSplit(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated ' in %q", s)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated \" in %q", s)
			}
			inWord = true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '#' && !inWord:
			i = len(s) // comment
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// isShellOp reports whether a word ends a simple command.
func isShellOp(w string) bool {
	switch w {
	case "|", "||", "&&", ";", "&", "<", "<<":
		return true
	}
	return strings.HasPrefix(w, ">") || strings.HasPrefix(w, "2>") || strings.HasPrefix(w, "1>") || strings.HasPrefix(w, "&>")
}

// casinoCommands returns the casino invocations in one shell line: each word
// "casino" up to the next shell operator. "casino" alone is prose.
func casinoCommands(line string) ([][]string, error) {
	words, err := shellSplit(line)
	if err != nil {
		return nil, err
	}
	var out [][]string
	for i, w := range words {
		if w != "casino" {
			continue
		}
		j := i + 1
		for j < len(words) && !isShellOp(words[j]) {
			j++
		}
		if j > i+1 {
			out = append(out, words[i+1:j])
		}
	}
	return out, nil
}

// docCommandLines returns the shell lines of a markdown file: the lines of
// its shell code blocks (continuations joined) and its inline code spans.
func docCommandLines(src string) []string {
	blocks, prose := mdParse(src)
	var lines []string
	for _, b := range blocks {
		switch b.Lang {
		case "", "bash", "sh", "shell", "console":
		default:
			continue // text, json, yaml: output and data, not commands
		}
		joined := strings.ReplaceAll(b.Text, "\\\n", " ")
		for _, l := range strings.Split(joined, "\n") {
			l = strings.TrimPrefix(strings.TrimSpace(l), "$ ")
			if l != "" {
				lines = append(lines, l)
			}
		}
	}
	for _, l := range prose {
		for _, m := range inlineCodeRe.FindAllStringSubmatch(l, -1) {
			lines = append(lines, m[1])
		}
	}
	return lines
}

// TestDocsCasinoCommandsParse runs every casino command line of docs/ops/*.md
// and deploy/README.md in parse-only mode: each must name a real subcommand
// and real flags. Nothing runs: parseOnly stops every command right after
// its flags parsed, and as a second guard the context is already cancelled
// and the working folder is a scratch one.
func TestDocsCasinoCommandsParse(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(repoRoot, "docs", "ops", "*.md"))
	files = append(files, filepath.Join(repoRoot, "deploy", "README.md"))
	type cmdline struct {
		where string
		args  []string
	}
	var all []cmdline
	seen := map[string]bool{}
	for _, f := range files {
		for _, l := range docCommandLines(mustRead(t, f)) {
			cmds, err := casinoCommands(l)
			if err != nil {
				t.Errorf("%s: %v", rel(f), err)
				continue
			}
			for _, args := range cmds {
				key := strings.Join(args, "\x00")
				if seen[key] || slicesContain(args, "…") {
					continue
				}
				if len(args) == 1 && commandGroups[args[0]] {
					continue // "casino dr" in prose names the group, it is not a command line
				}
				seen[key] = true
				all = append(all, cmdline{rel(f), args})
			}
		}
	}
	if len(all) < 20 {
		t.Fatalf("found only %d casino command lines in the ops docs", len(all))
	}

	dir := t.TempDir()
	chdir(t, dir)
	parseOnly = true
	t.Cleanup(func() { parseOnly = false })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	env := envFunc(map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(dir, "none.db")})
	for _, c := range all {
		if isSynopsis(c.args) {
			checkSynopsis(t, ctx, env, c.where, c.args)
			continue
		}
		err := run(ctx, c.args, env, strings.NewReader(""), io.Discard, io.Discard)
		switch {
		case errors.Is(err, errParseOnly):
		case err == nil && (slicesContain(c.args, "-h") || slicesContain(c.args, "--help") || c.args[0] == "help"):
		default:
			t.Errorf("%s: casino %s: want it to parse, got: %v", c.where, strings.Join(c.args, " "), err)
		}
	}
	t.Logf("%d casino command lines parse", len(all))
}

// isSynopsis reports whether a documented line is a usage synopsis
// ("backup prune --keep-last N [--yes]") rather than a runnable command.
func isSynopsis(args []string) bool {
	for _, a := range args {
		if strings.HasPrefix(a, "[") || strings.HasSuffix(a, "]") || strings.Contains(a, "|") {
			return true
		}
	}
	return false
}

// checkSynopsis checks a usage synopsis: its subcommand answers -h, and every
// --flag it names is one that subcommand defines.
func checkSynopsis(t *testing.T, ctx context.Context, env func(string) string, where string, args []string) {
	t.Helper()
	var path, flags []string
	for _, a := range args {
		a = strings.Trim(a, "[]")
		if strings.HasPrefix(a, "-") {
			name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
			flags = append(flags, name)
		} else if len(flags) == 0 && !strings.ContainsAny(a, "|") {
			path = append(path, a)
		}
	}
	var out bytes.Buffer
	if err := run(ctx, append(path, "-h"), env, strings.NewReader(""), &out, io.Discard); err != nil {
		t.Errorf("%s: synopsis casino %s: casino %s -h: %v", where, strings.Join(args, " "), strings.Join(path, " "), err)
		return
	}
	for _, f := range flags {
		if f == "h" || f == "help" {
			continue
		}
		if !regexp.MustCompile(`(?m)^\s+-` + regexp.QuoteMeta(f) + `\b`).MatchString(out.String()) {
			t.Errorf("%s: synopsis casino %s: casino %s has no flag --%s", where, strings.Join(args, " "), strings.Join(path, " "), f)
		}
	}
}

// commandGroups are the casino commands that only take subcommands.
var commandGroups = map[string]bool{"dr": true, "backup": true, "admin": true, "user": true}

func slicesContain(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------------------
// RTO / RPO: docs/ops/dr_rto_rpo.md and docs/ops/dr_targets.json agree.

type drTargetsFile struct {
	Version   int `json:"version"`
	Scenarios map[string]struct {
		Name string  `json:"name"`
		RTO  string  `json:"rto"`
		RPO  *string `json:"rpo"`
		Why  string  `json:"why"`
		PITR *struct {
			RTO string  `json:"rto"`
			RPO *string `json:"rpo"`
			Why string  `json:"why"`
		} `json:"pitr"`
	} `json:"scenarios"`
}

func TestDocsRTORPOMatchesTargets(t *testing.T) {
	raw := mustRead(t, filepath.Join(repoRoot, "docs", "ops", "dr_targets.json"))
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	var tf drTargetsFile
	if err := dec.Decode(&tf); err != nil {
		t.Fatalf("dr_targets.json: %v", err)
	}
	if tf.Version != 1 {
		t.Errorf("dr_targets.json version %d, want 1", tf.Version)
	}
	want := map[string]string{"A": "App-only", "B": "DB issue", "C": "Infra loss"}
	if len(tf.Scenarios) != len(want) {
		t.Errorf("dr_targets.json scenarios %d, want A, B and C", len(tf.Scenarios))
	}
	for k, name := range want {
		s, ok := tf.Scenarios[k]
		if !ok {
			t.Errorf("dr_targets.json: scenario %s missing", k)
			continue
		}
		if s.Name != name {
			t.Errorf("scenario %s name %q, want %q", k, s.Name, name)
		}
		if d, err := time.ParseDuration(s.RTO); err != nil || d <= 0 {
			t.Errorf("scenario %s rto %q is not a positive Go duration", k, s.RTO)
		}
		if s.RPO != nil {
			if d, err := time.ParseDuration(*s.RPO); err != nil || d <= 0 {
				t.Errorf("scenario %s rpo %q is not a positive Go duration", k, *s.RPO)
			}
		}
		if strings.TrimSpace(s.Why) == "" {
			t.Errorf("scenario %s has no why", k)
		}
	}
	if s := tf.Scenarios["A"]; s.RPO != nil {
		t.Errorf("scenario A restores no data: rpo must be null, got %q", *s.RPO)
	}

	// The table under "## Targets" in dr_rto_rpo.md.
	doc := mustRead(t, filepath.Join(repoRoot, "docs", "ops", "dr_rto_rpo.md"))
	_, section, ok := strings.Cut(doc, "\n## Targets\n")
	if !ok {
		t.Fatal(`dr_rto_rpo.md has no "## Targets" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	row := regexp.MustCompile(`(?m)^\|\s*([A-Z])\s*\|\s*([^|]+?)\s*\|\s*([^|]+?)\s*\|\s*([^|]+?)\s*\|\s*$`)
	rows := row.FindAllStringSubmatch(section, -1)
	if len(rows) != len(tf.Scenarios) {
		t.Fatalf("dr_rto_rpo.md targets table has %d scenario rows, dr_targets.json %d", len(rows), len(tf.Scenarios))
	}
	sameDuration := func(a, b string) bool {
		da, err1 := time.ParseDuration(a)
		db, err2 := time.ParseDuration(b)
		return err1 == nil && err2 == nil && da == db
	}
	for _, r := range rows {
		k, name, rto, rpo := r[1], r[2], r[3], r[4]
		s, ok := tf.Scenarios[k]
		if !ok {
			t.Errorf("dr_rto_rpo.md names scenario %s, dr_targets.json does not", k)
			continue
		}
		if name != s.Name {
			t.Errorf("scenario %s: doc name %q, data %q", k, name, s.Name)
		}
		if !sameDuration(rto, s.RTO) {
			t.Errorf("scenario %s: doc RTO %q, data %q", k, rto, s.RTO)
		}
		switch {
		case s.RPO == nil && rpo != "n/a":
			t.Errorf("scenario %s: doc RPO %q, data null (write n/a)", k, rpo)
		case s.RPO != nil && !sameDuration(rpo, *s.RPO):
			t.Errorf("scenario %s: doc RPO %q, data %q", k, rpo, *s.RPO)
		}
	}

	// "## Targets with point-in-time recovery" lists exactly the scenarios
	// with a pitr object, each tighter or equal on RPO.
	_, section, ok = strings.Cut(doc, "\n## Targets with point-in-time recovery\n")
	if !ok {
		t.Fatal(`dr_rto_rpo.md has no "## Targets with point-in-time recovery" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	rows = row.FindAllStringSubmatch(section, -1)
	withPITR := 0
	for _, s := range tf.Scenarios {
		if s.PITR != nil {
			withPITR++
		}
	}
	if withPITR == 0 || len(rows) != withPITR {
		t.Fatalf("dr_rto_rpo.md PITR table has %d rows, dr_targets.json %d scenarios with pitr targets", len(rows), withPITR)
	}
	for _, r := range rows {
		k, rto, rpo := r[1], r[3], r[4]
		s, ok := tf.Scenarios[k]
		if !ok || s.PITR == nil || s.PITR.RPO == nil {
			t.Errorf("dr_rto_rpo.md PITR table names scenario %s, dr_targets.json has no pitr rpo for it", k)
			continue
		}
		if !sameDuration(rto, s.PITR.RTO) || !sameDuration(rpo, *s.PITR.RPO) {
			t.Errorf("scenario %s with PITR: doc %s/%s, data %s/%s", k, rto, rpo, s.PITR.RTO, *s.PITR.RPO)
		}
		plain, _ := time.ParseDuration(*s.RPO)
		if d, _ := time.ParseDuration(*s.PITR.RPO); d <= 0 || d > plain || strings.TrimSpace(s.PITR.Why) == "" {
			t.Errorf("scenario %s pitr rpo %s must be positive, at most the plain %s, and have a why", k, *s.PITR.RPO, *s.RPO)
		}
	}
	for _, must := range []string{"incident_start_utc", "impact_start_utc", "snapshot_at", "## Measured results"} {
		if !strings.Contains(doc, must) {
			t.Errorf("dr_rto_rpo.md does not mention %s", must)
		}
	}
}

// ---------------------------------------------------------------------------
// The checklist keeps the seed's structure; the proof template its fields.

func TestDocsChecklistShape(t *testing.T) {
	doc := mustRead(t, filepath.Join(repoRoot, "docs", "ops", "dr_checklist.md"))
	sections := []string{"## 1) Declare incident", "## 2) Containment", "## 3) Identify scenario", "## 4) Execute", "## 5) Validate", "## 6) Proof + Postmortem"}
	last := -1
	for _, s := range sections {
		i := strings.Index(doc, s)
		if i < 0 {
			t.Errorf("checklist lacks section %q", s)
		} else if i < last {
			t.Errorf("checklist section %q is out of order", s)
		}
		last = i
	}
	for _, line := range []string{
		"kubectl scale deploy/frontend-admin --replicas=0",
		"kubectl scale deploy/backend --replicas=0",
		"docker compose -f docker-compose.prod.yml stop backend frontend-admin",
		"docker compose -f docker-compose.prod.yml exec -T backend casino migrate current",
		"./scripts/restore_postgres.sh backups/casino_db_YYYYMMDD_HHMMSS.sql.gz",
		"docker compose -f docker-compose.prod.yml restart backend",
		"kubectl rollout undo deploy/backend",
		"curl -i <URL>/api/ready",
		"curl -s <URL>/api/v1/tenants/capabilities -H \"Authorization: Bearer ***\"",
		`"password":"***"`,
	} {
		if !strings.Contains(doc, line) {
			t.Errorf("checklist lacks the line %q", line)
		}
	}
	if strings.Contains(strings.ToLower(doc), "alembic") {
		t.Error("checklist still mentions alembic; casino migrate current replaces it")
	}
	if n := strings.Count(doc, "\n"); n > 260 {
		t.Errorf("checklist has %d lines; it must stay short", n)
	}
}

func TestDocsProofTemplateFields(t *testing.T) {
	doc := mustRead(t, filepath.Join(repoRoot, "docs", "ops", "restore_drill_proof", "template.md"))
	for _, field := range []string{
		"Drill or incident id", "Severity", "Incident commander (IC)", "Comms owner",
		"incident_start_utc", "impact_start_utc", "Scenario", "Why this one",
		"File", "sha256", "snapshot_at", "Start:", "End:", "Exit code:", "redacted output",
		"## Validation", "RTO", "RPO", "Target", "Follow-ups", "## Sign-off",
	} {
		if !strings.Contains(doc, field) {
			t.Errorf("proof template lacks %q", field)
		}
	}
}

// ---------------------------------------------------------------------------
// Scenario B, from the runbook's own command blocks, on the local setup.

// scenarioBSteps are the runbook's marked blocks, in the order a newcomer
// runs them: start serve and back up (routine), declare and contain,
// evaluate, restore, restart, validate, close. The data is broken between
// backup and contain.
// "undo" (runbook §6) then swaps the database the restore kept aside back in.
var scenarioBSteps = []string{"start", "backup", "contain", "evaluate", "restore", "restart", "validate", "close", "undo"}

// scenarioBBlocks returns the runbook's <!-- scenario-b-local: STEP [ENGINE] -->
// blocks for engine.
func scenarioBBlocks(t *testing.T, engine string) map[string][]string {
	t.Helper()
	blocks, _ := mdParse(mustRead(t, filepath.Join(repoRoot, "docs", "ops", "dr_runbook.md")))
	out := map[string][]string{}
	for _, b := range blocks {
		f := strings.Fields(b.Marker)
		if len(f) < 2 || f[0] != "scenario-b-local:" {
			continue
		}
		if len(f) == 3 && f[2] != engine {
			continue
		}
		for _, l := range strings.Split(strings.ReplaceAll(b.Text, "\\\n", " "), "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				out[f[1]] = append(out[f[1]], l)
			}
		}
	}
	for _, s := range scenarioBSteps {
		if len(out[s]) == 0 {
			t.Fatalf("dr_runbook.md has no <!-- scenario-b-local: %s --> block for %s", s, engine)
		}
	}
	return out
}

func TestDocsScenarioBLocal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds casino and runs a drill")
	}
	bin := buildCasino(t)
	t.Run("sqlite", func(t *testing.T) {
		drill(t, bin, "sqlite", "sqlite:data/casino.db")
	})
	t.Run("postgres", func(t *testing.T) {
		drill(t, bin, "postgres", testpg.NewDatabase(t))
	})
}

// buildCasino builds the binary the way an operator has it: on PATH as casino.
func buildCasino(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "casino"), ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

// drillEnv is the operator's environment: the real one minus any casino
// setting, plus the drill's.
func drillEnv(binDir string, extra map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "DATABASE_URL" || strings.HasPrefix(k, "CASINO_") || k == "PATH" {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// drill follows the runbook's local Scenario B blocks on one engine. Every
// line runs in bash as written, with placeholders filled; casino is the
// freshly built binary on PATH.
func drill(t *testing.T, binDir, engine, dbURL string) {
	steps := scenarioBBlocks(t, engine)
	work := t.TempDir()
	abs, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	// The operator's working folder, laid out like a checkout: scripts/ as
	// in the repository, and a copy of docs/ops (the runbook casino dr
	// scenario prints, the proof template, the RTO/RPO targets), so the
	// drill's proof lands in the copy, never in the repository.
	if err := os.Symlink(filepath.Join(abs, "scripts"), filepath.Join(work, "scripts")); err != nil {
		t.Fatal(err)
	}
	copyDocsOps(t, filepath.Join(abs, "docs", "ops"), filepath.Join(work, "docs", "ops"))
	addr := freeAddr(t)
	url := "http://" + addr
	env := drillEnv(binDir, map[string]string{
		"DATABASE_URL":          dbURL,
		"CASINO_ADDR":           addr,
		"CASINO_OWNER_PASSWORD": "drill-Owner-password-1",
		"CASINO_JWT_KEY":        "drill-jwt-key-0123456789abcdef0123456789abcdef",
	})
	if engine != "sqlite" {
		// The operator's environment holds the backup signing key, as it
		// holds DATABASE_URL; SQLite drills the zero-config key.
		env = append(env, "CASINO_BACKUP_SIGNING_KEY="+testBackupKey)
	}
	placeholders := map[string]string{"<URL>": url, "<name>": "Drill Operator"}
	pidfile := filepath.Join(work, "run", "backend.pid")
	t.Cleanup(func() { stopPidfile(t, pidfile) })

	fill := func(line string) string {
		// Longest first: pre_restore_casino_db_YYYYMMDD_HHMMSS before
		// casino_db_YYYYMMDD_HHMMSS.
		keys := make([]string, 0, len(placeholders))
		for k := range placeholders {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return len(keys[i]) > len(keys[j]) })
		for _, k := range keys {
			line = strings.ReplaceAll(line, k, placeholders[k])
		}
		if m := regexp.MustCompile(`<[A-Za-z_]+>`).FindString(line); m != "" {
			t.Fatalf("placeholder %s left unfilled in %q", m, line)
		}
		return line
	}
	runStep := func(step string) {
		for _, raw := range steps[step] {
			line := fill(raw)
			cmd := exec.Command("bash", "-o", "pipefail", "-c", line)
			cmd.Dir, cmd.Env = work, env
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			start := time.Now()
			err := cmd.Run()
			t.Logf("[%s] $ %s (%.1fs)\n%s", step, line, time.Since(start).Seconds(), strings.TrimSpace(out.String()))
			if err != nil {
				t.Fatalf("[%s] %q failed: %v\n%s\nrun/backend.log:\n%s", step, line, err, out.String(), tail(filepath.Join(work, "run", "backend.log")))
			}
		}
	}
	// serving waits until the process in the pidfile answers ready.
	serving := func(step string) {
		t.Helper()
		if readPid(pidfile) == 0 {
			t.Fatalf("after %s: no pid in run/backend.pid", step)
		}
		waitStatus(t, url+"/api/ready", 200, 90*time.Second)
	}
	// stopped waits until the process in the pidfile is gone.
	stopped := func(step string) {
		t.Helper()
		if !waitPidGone(readPid(pidfile), 40*time.Second) {
			t.Fatalf("after %s: casino serve (pid %d) still runs", step, readPid(pidfile))
		}
	}

	// casino serve is running before the incident.
	runStep("start")
	serving("start")
	db := openDrillDB(t, work, dbURL)
	execSQL(t, db, `INSERT INTO tenants (name, slug, status, created_at, updated_at) VALUES ('Drill Keep', 'drill-keep', 'active', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)`)

	runStep("backup")
	manifests, _ := filepath.Glob(filepath.Join(work, "backups", "casino_db_*.manifest.json"))
	if len(manifests) != 1 {
		t.Fatalf("after the backup step: want one casino_db_*.manifest.json in backups/, got %v", manifests)
	}
	stem := strings.TrimSuffix(filepath.Base(manifests[0]), ".manifest.json")
	placeholders["casino_db_YYYYMMDD_HHMMSS"] = stem

	// The incident: the tenant is deleted, a later write lands.
	execSQL(t, db, `DELETE FROM tenants WHERE slug = 'drill-keep'`)
	execSQL(t, db, `INSERT INTO tenants (name, slug, status, created_at, updated_at) VALUES ('After Backup', 'after-backup', 'active', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)`)
	db.Close()

	runStep("contain")
	stopped("contain")
	runStep("evaluate")
	runStep("restore")
	runStep("restart")
	serving("restart")
	runStep("validate")
	proofs, _ := filepath.Glob(filepath.Join(work, "docs", "ops", "restore_drill_proof", "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*.md"))
	if len(proofs) != 1 {
		t.Fatalf("want one proof file from casino dr declare, got %v", proofs)
	}
	placeholders["YYYY-MM-DD"] = strings.TrimSuffix(filepath.Base(proofs[0]), ".md")
	runStep("close")
	proof := mustRead(t, proofs[0])
	for _, want := range []string{"INCIDENT PROOF", stem, "RTO", "RPO"} {
		if !strings.Contains(proof, want) {
			t.Errorf("the proof lacks %q", want)
		}
	}
	if strings.Contains(proof, "drill-Owner-password-1") {
		t.Error("the owner password leaked into the proof")
	}

	// The data is the backup's: the deleted tenant is back, the write made
	// after the snapshot is gone (that is the RPO).
	checkTenants(t, work, dbURL, "after restore", map[string]int{"drill-keep": 1, "after-backup": 0})

	// Runbook §6: undo the restore (casino restore --undo). Stop the
	// backend first, as the runbook says, then start it again.
	safety, _ := filepath.Glob(filepath.Join(work, "backups", "pre_restore_casino_db_*.manifest.json"))
	if len(safety) != 1 {
		t.Fatalf("want one pre_restore_ safety backup, got %v", safety)
	}
	placeholders["pre_restore_casino_db_YYYYMMDD_HHMMSS"] = strings.TrimSuffix(filepath.Base(safety[0]), ".manifest.json")
	if p, err := os.FindProcess(readPid(pidfile)); err == nil {
		p.Signal(os.Interrupt)
	}
	stopped("undo")
	runStep("undo")
	runStep("start")
	serving("start after undo")
	checkTenants(t, work, dbURL, "after undoing the restore", map[string]int{"drill-keep": 0, "after-backup": 1})
}

// readPid reads a pidfile; 0 when there is none.
func readPid(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	var pid int
	fmt.Sscan(string(b), &pid)
	return pid
}

// waitPidGone waits for a process to exit. A zombie (exited, not yet
// reaped by whoever adopted it) counts as gone.
func waitPidGone(pid int, within time.Duration) bool {
	if pid <= 0 {
		return true
	}
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return true
		}
		// state is the field after the ")" that closes the command name
		if i := bytes.LastIndexByte(b, ')'); i > 0 && len(b) > i+2 && (b[i+2] == 'Z' || b[i+2] == 'X') {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// stopPidfile stops the casino serve a drill left running.
func stopPidfile(t *testing.T, pidfile string) {
	pid := readPid(pidfile)
	if pid <= 0 {
		return
	}
	if p, err := os.FindProcess(pid); err == nil {
		p.Signal(os.Interrupt)
		if !waitPidGone(pid, 30*time.Second) {
			p.Kill()
		}
	}
}

// checkTenants counts tenants by slug.
func checkTenants(t *testing.T, work, dbURL, when string, want map[string]int) {
	t.Helper()
	db := openDrillDB(t, work, dbURL)
	defer db.Close()
	for slug, n := range want {
		if got := countSQL(t, db, `SELECT count(*) FROM tenants WHERE slug = '`+slug+`'`); got != n {
			t.Errorf("%s: tenant %s count %d, want %d", when, slug, got, n)
		}
	}

}

// copyDocsOps copies the markdown and JSON of docs/ops (not existing proofs).
func copyDocsOps(t *testing.T, from, to string) {
	t.Helper()
	for _, sub := range []string{"", "restore_drill_proof"} {
		if err := os.MkdirAll(filepath.Join(to, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(from, "*"))
	files = append(files, filepath.Join(from, "restore_drill_proof", "template.md"))
	for _, f := range files {
		if fi, err := os.Stat(f); err != nil || fi.IsDir() {
			continue
		}
		r, _ := filepath.Rel(from, f)
		if err := os.WriteFile(filepath.Join(to, r), []byte(mustRead(t, f)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// openDrillDB opens the drill's database as casino does, from the working folder.
func openDrillDB(t *testing.T, work, dbURL string) *sqlstore.DB {
	t.Helper()
	if strings.HasPrefix(dbURL, "sqlite:") && !filepath.IsAbs(strings.TrimPrefix(dbURL, "sqlite:")) {
		dbURL = "sqlite:" + filepath.Join(work, strings.TrimPrefix(dbURL, "sqlite:"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sqlstore.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func execSQL(t *testing.T, db *sqlstore.DB, q string) {
	t.Helper()
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func countSQL(t *testing.T, db *sqlstore.DB, q string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// tail returns the end of a log file for a failure message.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// TestDocsRunbookQuotesRealMessages: the refusals the runbook quotes are
// the ones casino prints, word for word (N and M stand for the versions).
func TestDocsRunbookQuotesRealMessages(t *testing.T) {
	doc := mustRead(t, filepath.Join(repoRoot, "docs", "ops", "dr_runbook.md"))
	msg := (&sqlstore.SchemaNewerError{Database: 1001, Binary: 1000}).Error()
	msg = strings.ReplaceAll(strings.ReplaceAll(msg, "1001", "N"), "1000", "M")
	if !strings.Contains(doc, msg) {
		t.Errorf("runbook §5 does not quote serve's refusal as casino prints it:\n%s", msg)
	}
	if !anchors(doc)["2-scenario-a-app-only"] {
		t.Error(`the refusal points at the runbook's "Scenario A"; keep that heading`)
	}
	for _, quoted := range []string{
		"N (newer than this binary, which knows M)", // casino migrate current
		backup.ErrLocked.Error(),
		backup.ErrNotConfirmed.Error(),
		dr.ErrBinaryChanged.Error(), dr.ErrLivePidfile.Error(), dr.ErrPortInUse.Error(), dr.ErrDiedAtStart.Error(),
	} {
		if !strings.Contains(doc, quoted) {
			t.Errorf("runbook does not quote %q", quoted)
		}
	}
}

// TestDeployCasinoCommandsParse: the casino command lines that
// docker-compose.prod.yml and deploy/k8s run (serve, migrate, backup) parse,
// including those inside "sh -c" scripts.
func TestDeployCasinoCommandsParse(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(repoRoot, "deploy", "k8s", "*.yaml"))
	files = append(files, filepath.Join(repoRoot, "docker-compose.prod.yml"))
	var all [][]string
	for _, f := range files {
		for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(mustRead(t, f), -1) {
			var v any
			if err := yaml.Unmarshal([]byte(doc), &v); err != nil {
				t.Fatalf("%s: %v", rel(f), err)
			}
			walkCommands(v, func(cmd []string) {
				if len(cmd) == 3 && cmd[0] == "sh" && cmd[1] == "-c" {
					cmds, err := casinoCommands(cmd[2])
					if err != nil {
						t.Errorf("%s: %v", rel(f), err)
					}
					all = append(all, cmds...)
				} else if len(cmd) > 1 && cmd[0] == "casino" {
					all = append(all, cmd[1:])
				}
			})
		}
	}
	if len(all) < 6 {
		t.Fatalf("found only %d casino commands in the deployment files", len(all))
	}
	chdir(t, t.TempDir())
	parseOnly = true
	t.Cleanup(func() { parseOnly = false })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, args := range all {
		if err := run(ctx, args, envFunc(nil), strings.NewReader(""), io.Discard, io.Discard); !errors.Is(err, errParseOnly) {
			t.Errorf("casino %s: want it to parse, got: %v", strings.Join(args, " "), err)
		}
	}
}

// walkCommands calls fn for every "command" list in a decoded YAML tree.
func walkCommands(v any, fn func([]string)) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if list, ok := x.([]any); ok && k == "command" {
				var cmd []string
				for _, w := range list {
					cmd = append(cmd, fmt.Sprint(w))
				}
				fn(cmd)
				continue
			}
			walkCommands(x, fn)
		}
	case []any:
		for _, x := range v {
			walkCommands(x, fn)
		}
	}
}

// TestDeploySettingsValidate: each casino serve of docker-compose.prod.yml
// and deploy/k8s, with the settings those files give it (secrets replaced by
// valid stand-ins), passes casino's own configuration check
// (serve --print-config validates everything and opens nothing).
func TestDeploySettingsValidate(t *testing.T) {
	secret := map[string]string{
		"DATABASE_URL":          "postgres://casino:pw@postgres:5432/casino_db?sslmode=disable",
		"CASINO_OWNER_PASSWORD": "a-long-owner-password-2026",
		"CASINO_JWT_KEY":        strings.Repeat("k", 48),
		"POSTGRES_PASSWORD":     "pw",
		// the public half of the test signing key, as kubectl create
		// secret --from-file would hold it
		"CASINO_BACKUP_VERIFY_KEY": func() string { p, _ := parseTestKey(); return string(p.Public().PEM()) }(),
	}
	check := func(where string, cmd []string, env map[string]string) {
		t.Helper()
		if len(cmd) < 2 || cmd[0] != "casino" || cmd[1] != "serve" {
			t.Errorf("%s: command %v is not casino serve", where, cmd)
			return
		}
		var out, errb bytes.Buffer
		if err := run(context.Background(), append(cmd[1:], "--print-config"), envFunc(env), strings.NewReader(""), &out, &errb); err != nil {
			t.Errorf("%s: casino %s --print-config with its settings: %v", where, strings.Join(cmd[1:], " "), err)
		}
	}

	// docker-compose.prod.yml: environment: over the env_file .env.
	envFile := map[string]string{}
	for _, line := range strings.Split(mustRead(t, filepath.Join(repoRoot, ".env.example")), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			envFile[k] = v
		}
	}
	var compose struct {
		Services map[string]struct {
			Command     []string          `json:"command"`
			Environment map[string]string `json:"environment"`
		} `json:"services"`
	}
	if err := yaml.Unmarshal([]byte(mustRead(t, filepath.Join(repoRoot, "docker-compose.prod.yml"))), &compose); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"backend", "frontend-admin"} {
		svc := compose.Services[name]
		env := map[string]string{}
		for k, v := range envFile {
			env[k] = v
		}
		for k, v := range secret {
			env[k] = v
		}
		for k, v := range svc.Environment {
			env[k] = v
		}
		check("docker-compose.prod.yml "+name, svc.Command, env)
	}

	// deploy/k8s: envFrom the ConfigMap, then env (secretKeyRef → stand-in).
	type k8sEnv struct {
		Name      string  `json:"name"`
		Value     *string `json:"value"`
		ValueFrom *struct {
			SecretKeyRef *struct {
				Key string `json:"key"`
			} `json:"secretKeyRef"`
		} `json:"valueFrom"`
	}
	type k8sObj struct {
		Kind     string                `json:"kind"`
		Metadata struct{ Name string } `json:"metadata"`
		Data     map[string]string     `json:"data"`
		Spec     struct {
			Template struct {
				Spec struct {
					Containers []struct {
						Command []string `json:"command"`
						EnvFrom []struct {
							ConfigMapRef *struct{ Name string } `json:"configMapRef"`
						} `json:"envFrom"`
						Env []k8sEnv `json:"env"`
					} `json:"containers"`
				} `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
	}
	var objs []k8sObj
	files, _ := filepath.Glob(filepath.Join(repoRoot, "deploy", "k8s", "*.yaml"))
	for _, f := range files {
		for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(mustRead(t, f), -1) {
			var o k8sObj
			if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
				t.Fatalf("%s: %v", rel(f), err)
			}
			objs = append(objs, o)
		}
	}
	configMaps := map[string]map[string]string{}
	for _, o := range objs {
		if o.Kind == "ConfigMap" {
			configMaps[o.Metadata.Name] = o.Data
		}
	}
	checked := 0
	for _, o := range objs {
		if o.Kind != "Deployment" || (o.Metadata.Name != "backend" && o.Metadata.Name != "frontend-admin") {
			continue
		}
		for _, c := range o.Spec.Template.Spec.Containers {
			env := map[string]string{}
			for _, ef := range c.EnvFrom {
				if ef.ConfigMapRef != nil {
					data, ok := configMaps[ef.ConfigMapRef.Name]
					if !ok {
						t.Errorf("deploy/%s: envFrom ConfigMap %q not in deploy/k8s", o.Metadata.Name, ef.ConfigMapRef.Name)
					}
					for k, v := range data {
						env[k] = v
					}
				}
			}
			for _, e := range c.Env {
				switch {
				case e.Value != nil:
					env[e.Name] = *e.Value
				case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
					v, ok := secret[e.ValueFrom.SecretKeyRef.Key]
					if !ok {
						t.Errorf("deploy/%s: secret key %s has no stand-in in this test", o.Metadata.Name, e.ValueFrom.SecretKeyRef.Key)
					}
					env[e.Name] = v
				}
			}
			check("deploy/k8s deploy/"+o.Metadata.Name, c.Command, env)
			checked++
		}
	}
	if checked != 2 {
		t.Errorf("checked %d k8s containers, want backend and frontend-admin", checked)
	}
}
