package dr

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"casino/redact"
)

// ProcessSpec is everything needed to start a local process again exactly
// as it ran: the binary it ran (resolved through /proc/PID/exe) and that
// image's sha256, its argv, working folder and whole environment. It holds
// secret values (DATABASE_URL with a password, CASINO_JWT_KEY, ...), so it
// lives only in the 0600 secrets file (see SaveSecrets), never in a journal
// or proof.
type ProcessSpec struct {
	Exe       string   `json:"exe"`
	ExeSHA256 string   `json:"exe_sha256"`
	Argv      []string `json:"argv"`
	Cwd       string   `json:"cwd"`
	Env       []string `json:"env"`
}

// EnvVar is one variable of a recorded environment as the journal holds
// it: the name, and the value with secrets masked. Secret says the value
// was masked; its clear text is only in the secrets file.
type EnvVar struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Secret bool   `json:"secret,omitempty"`
}

// envView returns the journal's view of an os.Environ-form environment, in
// name order: secret-named variables masked whole, secrets inside other
// values (a password in a URL, a libpq password=) masked by pattern.
func envView(environ []string) []EnvVar {
	var out []EnvVar
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		view := redact.DatabaseURL(redact.String(v))
		if redact.IsSecretName(k) && v != "" {
			view = Redacted
		}
		out = append(out, EnvVar{Name: k, Value: view, Secret: view != v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// learnSecrets teaches red every secret of a recorded environment, so the
// same values are masked wherever else they appear (a command line, a log
// tail), even when the operator's shell does not hold them.
func learnSecrets(red *Redactor, environ []string) {
	if red == nil {
		return
	}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if redact.IsSecretName(k) {
			red.Add(v)
		}
		red.Learn(kv)
		red.Learn(v)
	}
}

// learnArgv teaches red the secrets of a recorded command line: flags
// such as --password X span two arguments, so the line is learnt whole.
func learnArgv(red *Redactor, argv []string) {
	if red != nil {
		red.Learn(CommandLine(argv))
		red.Learn(strings.Join(argv, " "))
	}
}

// readProcess reads what /proc says about pid: the binary image it runs,
// that image's sha256, argv, working folder and environment. Any part that
// cannot be read is an error: a restore that cannot be exact must not be
// recorded as if it could.
func readProcess(pid int) (*ProcessSpec, error) {
	proc := fmt.Sprintf("/proc/%d", pid)
	exe, err := os.Readlink(proc + "/exe")
	if err != nil {
		return nil, fmt.Errorf("pid %d: its binary: %w", pid, err)
	}
	if strings.HasSuffix(exe, " (deleted)") {
		return nil, fmt.Errorf("pid %d runs %s, which was deleted or replaced on disk since it started: restore-traffic could not start the same binary again", pid, exe)
	}
	// Hash the image the process runs (through /proc, not the path, which
	// may already hold another build).
	sum, err := fileSHA256(proc + "/exe")
	if err != nil {
		return nil, fmt.Errorf("pid %d: hash its binary: %w", pid, err)
	}
	if onDisk, err := fileSHA256(exe); err != nil || onDisk != sum {
		return nil, fmt.Errorf("pid %d runs a binary that is no longer the one at %s: restore-traffic could not start the same binary again", pid, exe)
	}
	raw, err := os.ReadFile(proc + "/cmdline")
	if err != nil {
		return nil, fmt.Errorf("pid %d: its command line: %w", pid, err)
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("pid %d has no command line (it is exiting): check it runs, then contain again", pid)
	}
	cwd, err := os.Readlink(proc + "/cwd")
	if err != nil {
		return nil, fmt.Errorf("pid %d: its working folder: %w", pid, err)
	}
	envRaw, err := os.ReadFile(proc + "/environ")
	if err != nil {
		return nil, fmt.Errorf("pid %d: its environment: %w (run contain as the user the process runs as)", pid, err)
	}
	spec := &ProcessSpec{Exe: exe, ExeSHA256: sum, Cwd: cwd,
		Argv: strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")}
	for _, kv := range bytes.Split(bytes.TrimRight(envRaw, "\x00"), []byte{0}) {
		if len(kv) > 0 {
			spec.Env = append(spec.Env, string(kv))
		}
	}
	return spec, nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// SecretsFileVersion is the shape version of the secrets file.
const SecretsFileVersion = 1

// secretsFile is the 0600 file beside the data, outside the proof folder,
// that holds the clear-text ProcessSpec of each local component contain
// recorded. It is never mirrored, committed or journaled; the journal names
// its path and the variables' names.
type secretsFile struct {
	Version    int                     `json:"version"`
	Incident   string                  `json:"incident"`
	Components map[string]*ProcessSpec `json:"components"`
}

// ErrSecretsInProof: the secrets file would land inside the proof folder.
var ErrSecretsInProof = errors.New("the secrets file must not be inside the proof folder (it would be mirrored or committed with the proof)")

// DefaultStateDir is the folder of dr's secrets files: CASINO_DR_STATE_DIR,
// else CASINO_DATA_DIR/dr, else data/dr (the data folder a local casino
// keeps beside its SQLite database). The result is absolute.
func DefaultStateDir(getenv func(string) string) string {
	d := getenv("CASINO_DR_STATE_DIR")
	if d == "" {
		if data := getenv("CASINO_DATA_DIR"); data != "" {
			d = filepath.Join(data, "dr")
		} else {
			d = filepath.Join("data", "dr")
		}
	}
	if abs, err := filepath.Abs(d); err == nil {
		d = abs
	}
	return d
}

// inside reports whether path is dir or below it.
func inside(path, dir string) bool {
	ap, err1 := filepath.Abs(path)
	ad, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return true
	}
	if r, err := filepath.EvalSymlinks(filepath.Dir(ap)); err == nil {
		ap = filepath.Join(r, filepath.Base(ap))
	}
	if r, err := filepath.EvalSymlinks(ad); err == nil {
		ad = r
	}
	rel, err := filepath.Rel(ad, ap)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// saveSecrets writes the secrets file for the local components of st that
// carry a Spec: mode 0600 in a 0700 folder, written to a temporary name and
// renamed, so it is whole or absent.
func saveSecrets(path, proofDir, incident string, st *PlatformState) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("secrets folder: %w", err)
	}
	if inside(path, proofDir) {
		return fmt.Errorf("%s: %w", path, ErrSecretsInProof)
	}
	sf := secretsFile{Version: SecretsFileVersion, Incident: incident, Components: map[string]*ProcessSpec{}}
	for _, c := range st.Components {
		if c.Spec != nil {
			sf.Components[c.Name] = c.Spec
		}
	}
	b, err := json.MarshalIndent(sf, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".secrets-*")
	if err != nil {
		return fmt.Errorf("secrets file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("secrets file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("secrets file: %w", err)
	}
	return nil
}

// loadSecrets reads the secrets file that contain wrote for incident and
// checks it against what the journal recorded: the same binary hash, the
// same argv length, the same variable names, and the same value for every
// variable the journal holds in clear. A file edited or swapped since is
// refused.
func loadSecrets(st *PlatformState, incident string) (map[string]*ProcessSpec, error) {
	if st.SecretsFile == "" {
		return nil, errors.New("this incident's contain recorded no secrets file (a casino from before restore-traffic replayed environments): start the backend by hand with its environment")
	}
	fi, err := os.Stat(st.SecretsFile)
	if err != nil {
		return nil, fmt.Errorf("the secrets file contain wrote: %w (it holds the recorded environment; without it the backend cannot be started as it ran)", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("the secrets file %s has mode %v: refusing a file others could have read or changed (want 0600)", st.SecretsFile, fi.Mode().Perm())
	}
	b, err := os.ReadFile(st.SecretsFile)
	if err != nil {
		return nil, err
	}
	var sf secretsFile
	if err := json.Unmarshal(b, &sf); err != nil {
		return nil, fmt.Errorf("the secrets file %s: %w", st.SecretsFile, err)
	}
	if sf.Version != SecretsFileVersion || sf.Incident != incident {
		return nil, fmt.Errorf("the secrets file %s is for incident %q (version %d), not %q", st.SecretsFile, sf.Incident, sf.Version, incident)
	}
	for _, c := range st.Components {
		if c.State != "running" || c.Exe == "" {
			continue
		}
		spec := sf.Components[c.Name]
		if spec == nil {
			return nil, fmt.Errorf("the secrets file %s has no %s", st.SecretsFile, c.Name)
		}
		if spec.ExeSHA256 != c.ExeSHA256 || spec.Exe != c.Exe || len(spec.Argv) != len(c.Cmdline) || spec.Cwd != c.Cwd {
			return nil, fmt.Errorf("the secrets file %s disagrees with the journal on %s's binary, command line or folder: refusing it", st.SecretsFile, c.Name)
		}
		view := envView(spec.Env)
		if len(view) != len(c.Env) {
			return nil, fmt.Errorf("the secrets file %s holds %d variables for %s, the journal %d: refusing it", st.SecretsFile, len(view), c.Name, len(c.Env))
		}
		for i, v := range view {
			j := c.Env[i]
			if v.Name != j.Name || (!j.Secret && !strings.Contains(j.Value, Redacted) && v.Value != j.Value) {
				return nil, fmt.Errorf("the secrets file %s disagrees with the journal on %s's variable %s: refusing it", st.SecretsFile, c.Name, j.Name)
			}
		}
	}
	return sf.Components, nil
}

// RemoveSecrets deletes the secrets file contain wrote for this incident,
// once the incident is closed: restore-traffic no longer needs the
// recorded environment, and the file holds its clear values (the database
// password among them). It removes only a file that names this incident,
// and returns its path ("" when there was none).
func (in *Incident) RemoveSecrets() (string, error) {
	if in.State == nil || !in.State.Closed || in.State.Platform == nil || in.State.Platform.SecretsFile == "" {
		return "", nil
	}
	path := in.State.Platform.SecretsFile
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("remove the secrets file: %w", err)
	}
	var sf secretsFile
	if json.Unmarshal(b, &sf) != nil || sf.Incident != in.ID {
		return "", fmt.Errorf("the secrets file %s is not this incident's (%s): left in place", path, in.ID)
	}
	if err := os.Remove(path); err != nil {
		return "", fmt.Errorf("remove the secrets file: %w", err)
	}
	return path, nil
}
