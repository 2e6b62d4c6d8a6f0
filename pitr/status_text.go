package pitr

import (
	"fmt"
	"io"
	"strings"
	"time"

	"casino/backup"
)

// WriteText renders the status as `casino pitr status` prints it: one
// "label: value" line per fact.
func (st *Status) WriteText(w io.Writer) {
	if st.Slot != "" {
		fmt.Fprintf(w, "stream folder:  %s (slot %s)\n", st.Dir, st.Slot)
	} else {
		fmt.Fprintf(w, "stream folder:  %s\n", st.Dir)
	}
	fmt.Fprintf(w, "stream:         %s\n", st.State())
	if st.Pulled != nil {
		if st.CaughtUpAt != nil {
			fmt.Fprintf(w, "last commit:    %s (the newest the bucket held; nothing streams into a pulled copy)\n", st.CaughtUpAt.Format(time.RFC3339Nano))
		} else {
			fmt.Fprintln(w, "last commit:    none after the base backup in the pulled WAL")
		}
	} else if st.LagSeconds >= 0 {
		fmt.Fprintf(w, "wal lag:        %.1fs (everything committed before %s is streamed)\n", st.LagSeconds, st.CaughtUpAt.Format(time.RFC3339Nano))
	} else {
		fmt.Fprintln(w, "wal lag:        unknown (the stream has not caught up yet)")
	}
	if b := st.NewestBase; b != nil {
		fmt.Fprintf(w, "newest base:    %s, finished %s (%d base backups, %s)\n", b.Name, b.FinishedAt.Format(time.RFC3339), st.BaseBackups, backup.HumanBytes(st.BaseBytes))
	} else {
		fmt.Fprintln(w, "newest base:    none yet")
	}
	if st.Window != nil {
		fmt.Fprintf(w, "window:         %s\n", st.Window)
	} else {
		fmt.Fprintln(w, "window:         none: no base backup with WAL streamed after it")
	}
	if st.Pulled == nil {
		fmt.Fprintf(w, "slot retains:   %s on the server (wal_status %s)\n", backup.HumanBytes(st.RetainedBytes), st.WALStatus)
	}
	fmt.Fprintf(w, "wal folder:     %s\n", backup.HumanBytes(st.WALBytes))
	if st.SlotLostAt != nil {
		fmt.Fprintf(w, "slot lost at:   %s (WAL before it moved to %s/old)\n", st.SlotLostAt.Format(time.RFC3339), st.Dir)
	}
}

// State says in words whether the stream is receiving: "receiving", "stale:
// ..." when the streamer's word is old, "pulled from ..." for a folder
// `casino pitr pull` rebuilt, else "not receiving".
func (st *Status) State() string {
	switch {
	case st.Pulled != nil:
		return "pulled from " + st.Pulled.Remote + " at " + st.Pulled.PulledAt.Format(time.RFC3339) + " (a copy: nothing streams into it)"
	case st.Receiving && st.Fresh:
		return "receiving"
	case st.Receiving:
		return "stale: no heartbeat since " + st.UpdatedAt.Format(time.RFC3339) + " (is `casino pitr stream` running?)"
	}
	return "not receiving"
}

// WritePulled renders what `casino pitr pull` wrote, and the restore that
// comes next.
func WritePulled(w io.Writer, p *Pulled) {
	fmt.Fprintf(w, "pulled:         %s from %s in %.1fs\n", p.Dir, p.Remote, p.Seconds)
	fmt.Fprintf(w, "base backups:   %s\n", strings.Join(p.BaseBackups, ", "))
	for _, l := range p.LeftOut {
		fmt.Fprintf(w, "left out:       %s\n", l)
	}
	if p.WALSegments > 0 {
		fmt.Fprintf(w, "wal:            %d segments, %s .. %s\n", p.WALSegments, p.FirstWAL, p.LastWAL)
	}
	fmt.Fprintf(w, "verified:       %d files, %s (%d were age-encrypted), signed by %s\n", p.Files, backup.HumanBytes(p.Bytes), p.Encrypted, strings.Join(p.KeyFingerprints, ", "))
	if p.Window == nil {
		fmt.Fprintln(w, "window:         none: the pulled WAL holds no commit after the base backup")
		return
	}
	fmt.Fprintf(w, "window:         %s (the end is the last commit the bucket holds)\n", p.Window)
	t := "T"
	if p.Target != nil {
		t = p.Target.UTC().Format(time.RFC3339Nano)
		if p.Target.After(p.Window.End) {
			fmt.Fprintf(w, "note:           %s is after the last commit the bucket holds: restore to %s or earlier, or --to-time latest\n", t, p.Window.End.Format(time.RFC3339Nano))
		}
	}
	fmt.Fprintf(w, "next:           casino restore --to-time %s --pitr-dir %s\n", t, p.Dir)
}
