package logging

import (
	"sync/atomic"
	"time"
)

// secondPrefix is "2006-01-02T15:04:05" of one UTC second.
type secondPrefix struct {
	unix   int64
	prefix []byte
}

var lastSecond atomic.Pointer[secondPrefix]

// appendTimestamp appends t in UTC as time.RFC3339Nano writes it. The
// "2006-01-02T15:04:05" part is formatted once per second and reused: every
// request line of that second shares it, and formatting the calendar fields
// was a visible share of a request's CPU.
func appendTimestamp(b []byte, t time.Time) []byte {
	t = t.UTC()
	sec := t.Unix()
	p := lastSecond.Load()
	if p == nil || p.unix != sec {
		if y := t.Year(); y < 0 || y > 9999 {
			return t.AppendFormat(b, time.RFC3339Nano)
		}
		p = &secondPrefix{unix: sec, prefix: t.AppendFormat(nil, "2006-01-02T15:04:05")}
		lastSecond.Store(p)
	}
	b = append(b, p.prefix...)
	if ns := t.Nanosecond(); ns != 0 {
		// ".123456789" with trailing zeros dropped, as RFC3339Nano does.
		var frac [10]byte
		frac[0] = '.'
		for i := 9; i >= 1; i-- {
			frac[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := 10
		for frac[n-1] == '0' {
			n--
		}
		b = append(b, frac[:n]...)
	}
	return append(b, 'Z')
}
