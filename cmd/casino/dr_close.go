package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"casino/docs/ops"
	"casino/dr"
	"casino/keys"
	"casino/s3store"
)

const drCloseUsage = `dr close [--targets FILE] [--summary TEXT] [--unrecovered]

Computes RTO (incident_start_utc to the first complete validation that
passed, data check included) and RPO (impact_start_utc minus snapshot_at of
the restore journaled by dr run as typed facts, or pitr.reached_at for a
point-in-time restore), compares both with the scenario's targets for the
configuration dr declare recorded (with or without PITR), writes the postmortem skeleton into the proof, and makes the
incident read-only.`

func runDRClose(ctx context.Context, env *Env, args []string) error {
	var f drFlags
	fs := newFlagSet(env, "dr close", drCloseUsage)
	bindDRFlags(fs, env, &f)
	targets := fs.String("targets", "", "RTO/RPO targets per scenario (JSON; default "+dr.DefaultTargets+" when it exists, else the targets built into casino)")
	summary := fs.String("summary", "", "one-paragraph summary for the postmortem")
	unrecovered := fs.Bool("unrecovered", false, "close although the newest validation failed the data check: RTO not known, recorded as not recovered")
	if err := parseFlags(fs, args); err != nil {
		return helpOK(err)
	}
	if fs.NArg() > 0 {
		return usageErrorf("dr close: unexpected argument %q", fs.Arg(0))
	}
	red := newRedactor(env)
	signer, err := drSigner(env)
	if err != nil {
		return err
	}
	in, err := openIncident(&f, red, true)
	if err != nil {
		return err
	}
	if open := in.State.Interrupted(); len(open) > 0 {
		fmt.Fprintf(env.Stderr, "warning: step %q started and never ended; closing anyway\n", open[0].Key)
	}
	src, err := dr.LoadSource(*targets, dr.DefaultTargets, "dr_targets.json", ops.Targets)
	if err != nil {
		return fmt.Errorf("dr close: RTO/RPO targets: %w", err)
	}
	t, err := dr.ParseTargets(src.Text, src.Name)
	if err != nil {
		return err
	}
	rep, err := dr.ComputeClose(in.State, t, src.Name, *unrecovered)
	if err != nil {
		return fmt.Errorf("dr close: %w", err)
	}
	rep.TargetsText = string(src.Text)
	rep.Summary = *summary
	if err := in.Append(dr.TypeClose, rep); err != nil {
		return err
	}
	if path, err := in.RemoveSecrets(); err != nil {
		fmt.Fprintf(env.Stderr, "warning: %v: delete it by hand\n", err)
	} else if path != "" {
		fmt.Fprintf(env.Stdout, "removed %s (the recorded environment: restore-traffic no longer needs it)\n", path)
	}
	if signer != nil {
		if err := in.Sign(*signer); err != nil {
			return fmt.Errorf("dr close: closed, but signing the journal head failed: %w", err)
		}
		fmt.Fprintf(env.Stdout, "signed the journal head with key %s\n", signer.Public().Fingerprint())
	}
	if rep.Configuration != "" {
		fmt.Fprintf(env.Stdout, "targets: scenario %s %s\n", rep.Scenario, rep.Configuration)
	}
	for _, m := range []struct {
		name string
		m    *dr.Measure
	}{{"RTO", rep.RTO}, {"RPO", rep.RPO}} {
		val := m.m.Value
		if val == "" {
			val = "not known (" + m.m.NotKnown + ")"
		}
		verdict := "no target"
		if m.m.Met != nil {
			verdict = map[bool]string{true: "MET", false: "NOT MET"}[*m.m.Met]
		}
		fmt.Fprintf(env.Stdout, "%s %s, target %s: %s\n", m.name, val, orDash(m.m.Target), verdict)
	}
	fmt.Fprintf(env.Stdout, "closed %s: %s is now read-only (postmortem skeleton written)\n", in.ID, in.ProofPath())
	head := in.Entries[len(in.Entries)-1]
	fmt.Fprintf(env.Stdout, "journal head: seq %d sha256 %s\n  record it outside this folder (ticket, chat); 'casino dr verify-proof --head %s FILE' then also proves nothing was cut off the end\n", head.Seq, head.Hash, head.Hash[:16])
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// drSigner loads CASINO_DR_SIGNING_KEY (a PEM value or a file path), or
// returns nil when it is unset.
func drSigner(env *Env) (*keys.Private, error) {
	v := env.Getenv("CASINO_DR_SIGNING_KEY")
	if v == "" {
		v = os.Getenv("CASINO_DR_SIGNING_KEY")
	}
	if v == "" {
		return nil, nil
	}
	k, err := keys.LoadPrivate(v)
	if err != nil {
		return nil, fmt.Errorf("CASINO_DR_SIGNING_KEY: %w", err)
	}
	return &k, nil
}

const drNoteUsage = `dr note "TEXT"

Journals operator prose (what was seen, decided, told): the proof shows it
in the timeline. After close, use 'casino dr addendum'.`

func runDRNote(ctx context.Context, env *Env, args []string) error {
	var f drFlags
	fs := newFlagSet(env, "dr note", drNoteUsage)
	bindDRFlags(fs, env, &f)
	if err := parseFlags(fs, positionalsLast(args)); err != nil {
		return helpOK(err)
	}
	if fs.NArg() != 1 {
		return usageErrorf("dr note: give the text as one argument (quote it)")
	}
	in, err := openIncident(&f, newRedactor(env), true)
	if err != nil {
		return err
	}
	if err := in.AddNote(fs.Arg(0)); err != nil {
		return fmt.Errorf("dr note: %w", err)
	}
	fmt.Fprintf(env.Stdout, "note journaled in %s\n", in.JournalPath())
	return nil
}

const drAddendumUsage = `dr addendum --section postmortem|signoff [--incident ID] FILE

After close, adds FILE as a section of the proof: journaled (chained after
the close), never edited in place, and signed when CASINO_DR_SIGNING_KEY is
set. Default incident: the newest in the proof folder.`

func runDRAddendum(ctx context.Context, env *Env, args []string) error {
	var f drFlags
	fs := newFlagSet(env, "dr addendum", drAddendumUsage)
	bindDRFlags(fs, env, &f)
	section := fs.String("section", "", "postmortem or signoff")
	if err := parseFlags(fs, positionalsLast(args)); err != nil {
		return helpOK(err)
	}
	if fs.NArg() != 1 || *section == "" {
		return usageErrorf("dr addendum: want --section postmortem|signoff FILE")
	}
	signer, err := drSigner(env)
	if err != nil {
		return err
	}
	in, err := dr.OpenLatest(f.proofDir, f.incident, newRedactor(env))
	if err == nil {
		f.attachMirror(in)
	}
	if err != nil {
		return fmt.Errorf("dr addendum: %w", err)
	}
	if err := in.AddAddendum(*section, fs.Arg(0)); err != nil {
		return fmt.Errorf("dr addendum: %w", err)
	}
	if signer != nil {
		if err := in.Sign(*signer); err != nil {
			return fmt.Errorf("dr addendum: added, but signing failed: %w", err)
		}
	}
	fmt.Fprintf(env.Stdout, "%s addendum added to %s\n", *section, in.ProofPath())
	return nil
}

const drVerifyProofUsage = `dr verify-proof [--key PUB] [--head HASH] FILE | s3://bucket/prefix/proofs/INCIDENT | --remote INCIDENT

Checks an incident's record as a whole (FILE is the proof .md or its
.journal.jsonl): the journal's hash chain; the proof, re-rendered from the
journal alone and compared byte for byte (the first differing line is
named); and with --key, that the journal's last entry is an Ed25519
signature of its head by that key (dr close signs when
CASINO_DR_SIGNING_KEY is set), so a chain rewritten with recomputed hashes
fails. See the proof folder's README for what is and is not detected.`

func runDRVerifyProof(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "dr verify-proof", drVerifyProofUsage)
	var f drFlags
	bindDRFlags(fs, env, &f)
	head := fs.String("head", "", "a head hash (or its prefix) recorded elsewhere at close: the journal must contain that entry")
	key := fs.String("key", "", "public key (PEM value or file) the journal head must be signed with")
	if err := parseFlags(fs, positionalsLast(args)); err != nil {
		return helpOK(err)
	}
	if fs.NArg() != 1 {
		return usageErrorf("dr verify-proof: give the proof file (or its journal)")
	}
	var pubs []keys.Public
	if *key != "" {
		var err error
		if pubs, err = keys.LoadPublics(*key); err != nil {
			return usageErrorf("dr verify-proof: --key: %v", err)
		}
	}
	file := fs.Arg(0)
	if f.remote.set || s3store.IsRemote(file) {
		path, cleanup, err := fetchMirroredProof(ctx, &f, file)
		if err != nil {
			return err
		}
		defer cleanup()
		fmt.Fprintf(env.Stdout, "mirrored copy: %s\n", file)
		file = path
	}
	rep, err := dr.VerifyProof(file, pubs)
	if err != nil {
		var ce *dr.ChainError
		var pm *dr.ProofMismatch
		switch {
		case errors.As(err, &ce):
			fmt.Fprintf(env.Stdout, "BROKEN after %d good entries: %s\n", rep.Entries, ce)
			return &exitError{code: 1, err: fmt.Errorf("dr verify-proof: hash chain broken at %s", ce)}
		case errors.As(err, &pm):
			fmt.Fprintf(env.Stdout, "BROKEN: %s\n", pm)
			return &exitError{code: 1, err: fmt.Errorf("dr verify-proof: proof line %d differs from the journal", pm.Line)}
		}
		fmt.Fprintf(env.Stdout, "BROKEN: %s\n", err)
		return &exitError{code: 1, err: fmt.Errorf("dr verify-proof: %w", err)}
	}
	n := rep.Entries
	if *head != "" {
		found := rep.HeadSeq(*head)
		if found == 0 {
			fmt.Fprintf(env.Stdout, "BROKEN: no entry has the recorded head %s: the journal was cut or rewritten\n", *head)
			return &exitError{code: 1, err: fmt.Errorf("dr verify-proof: recorded head %s not in the journal", *head)}
		}
		fmt.Fprintf(env.Stdout, "recorded head %s is entry seq %d of %d\n", *head, found, n)
	}
	what := "proof re-rendered from the journal matches byte for byte"
	if !rep.Rendered {
		what = "legacy proof: its head is not in the journal, only the journal's head hash was checked in it"
	}
	sig := "not signed"
	if len(rep.Signed) > 0 {
		sig = "signed by " + strings.Join(rep.Signed, ", ")
		if rep.Checked {
			sig += " (verified with --key)"
		} else {
			sig += " (not checked: pass --key PUB)"
		}
	}
	fmt.Fprintf(env.Stdout, "OK: %d entries, hash chain intact, %s; %s\n", n, what, sig)
	return nil
}
