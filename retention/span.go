package retention

import (
	"fmt"
	"strconv"
	"time"
	"unicode"
)

// ParseSpan parses a span such as "36h", "7d", "2w", "1y" or "1w2d12h":
// Go's duration units plus d (24h), w (7d) and y (365d). Spans of retention
// are calendar-agnostic on purpose: "7d" is 168 hours whatever the clock
// does.
func ParseSpan(s string) (time.Duration, error) {
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	var total time.Duration
	rest := s
	for rest != "" {
		i := 0
		for i < len(rest) && (unicode.IsDigit(rune(rest[i])) || rest[i] == '.') {
			i++
		}
		j := i
		for j < len(rest) && unicode.IsLetter(rune(rest[j])) {
			j++
		}
		if i == 0 || j == i {
			return 0, fmt.Errorf("duration %q: want forms like 36h, 7d, 2w, 1y", s)
		}
		num, unit := rest[:i], rest[i:j]
		rest = rest[j:]
		var mult time.Duration
		switch unit {
		case "d":
			mult = 24 * time.Hour
		case "w":
			mult = 7 * 24 * time.Hour
		case "y":
			mult = 365 * 24 * time.Hour
		default:
			d, err := time.ParseDuration(num + unit)
			if err != nil {
				return 0, fmt.Errorf("duration %q: %v", s, err)
			}
			total += d
			continue
		}
		n, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return 0, fmt.Errorf("duration %q: %v", s, err)
		}
		total += time.Duration(n * float64(mult))
	}
	if total < 0 {
		return 0, fmt.Errorf("duration %q is negative", s)
	}
	return total, nil
}
