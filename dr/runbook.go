package dr

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strings"
)

var headingRe = regexp.MustCompile(`^(#{1,6})\s+(.*)$`)

// RunbookSection returns the section of the runbook whose heading names the
// scenario ("Scenario B", "B)", "B:" ...), up to the next heading of the
// same or a higher level. Headings inside code fences do not count.
func RunbookSection(src Source, scenario string) (string, error) {
	named := regexp.MustCompile(`(?i)\bscenario\s+` + regexp.QuoteMeta(scenario) + `\b`)
	var out []string
	level := 0
	sc := bufio.NewScanner(bytes.NewReader(src.Text))
	sc.Buffer(make([]byte, 64<<10), maxSourceBytes)
	inFence := false
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inFence = !inFence
		}
		if m := headingRe.FindStringSubmatch(line); m != nil && !inFence {
			if level > 0 && len(m[1]) <= level {
				break
			}
			if level == 0 && named.MatchString(m[2]) {
				level = len(m[1])
			}
		}
		if level > 0 {
			out = append(out, line)
		}
	}
	if level == 0 {
		return "", fmt.Errorf("%s has no heading naming \"Scenario %s\"", src.Name, scenario)
	}
	return strings.TrimRight(strings.Join(out, "\n"), "\n"), nil
}
