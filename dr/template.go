package dr

import (
	"fmt"
	"strings"
	"time"
)

// fillTemplate fills the fields of the canonical proof template that declare
// knows: the kind and the incident table's id, severity, roles, start times
// and version. A row's placeholder is its leading <…> (nesting allowed); any
// note after it stays. Rows and placeholders it does not know are left for
// the humans (and the generated part below the marker).
func fillTemplate(tpl, id string, d Declaration) string {
	vals := map[string]string{
		"Drill or incident id":        id,
		"Severity":                    d.Severity,
		"Incident commander (IC)":     d.IC,
		"Comms owner":                 d.Comms,
		"`incident_start_utc`":        d.IncidentStart.UTC().Format(time.RFC3339),
		"`impact_start_utc`":          d.ImpactStart.UTC().Format(time.RFC3339),
		"Version before the incident": d.VersionBefore,
	}
	if d.VersionPrevious != nil {
		vals["Version before the incident"] = fmt.Sprintf("running at declare: %s; previous distinct version: %s", d.VersionBefore, FormatVersion(*d.VersionPrevious))
	}
	lines := strings.Split(tpl, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "**Kind:** <") {
			lines[i] = "**Kind:** INCIDENT PROOF"
			if d.Drill {
				lines[i] = "**Kind:** DRILL PROOF"
			}
			continue
		}
		if !strings.HasPrefix(l, "| ") {
			continue
		}
		cells := strings.SplitN(l, "|", 4)
		if len(cells) < 4 {
			continue
		}
		v, ok := vals[strings.TrimSpace(cells[1])]
		if !ok || v == "" {
			continue
		}
		cell := strings.TrimLeft(cells[2], " ")
		if !strings.HasPrefix(cell, "<") {
			continue
		}
		depth, end := 0, -1
		for j, r := range cell {
			if r == '<' {
				depth++
			} else if r == '>' {
				depth--
				if depth == 0 {
					end = j
					break
				}
			}
		}
		if end < 0 {
			continue
		}
		lines[i] = "|" + cells[1] + "| " + v + cell[end+1:] + "|" + cells[3]
	}
	return strings.Join(journalSections(lines), "\n")
}

// generatedSections are the template's sections whose content the journal
// records (and Render writes below the marker). In a proof made by declare
// their placeholders would only be noise beside the real record, so their
// bodies become a pointer to it. Postmortem and Sign-off stay for people.
var generatedSections = map[string]bool{
	"## Scenario": true, "## Backup used": true, "## Commands": true,
	"## Validation": true, "## RTO and RPO": true,
}

func journalSections(lines []string) []string {
	var out []string
	skipping := false
	for _, l := range lines {
		if strings.HasPrefix(l, "## ") {
			skipping = generatedSections[strings.TrimSpace(l)]
			out = append(out, l)
			if skipping {
				out = append(out, "", "Recorded by `casino dr` from the journal: see the generated record below.", "")
			}
			continue
		}
		if !skipping {
			out = append(out, l)
		}
	}
	return out
}
