package backup

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Progress reports the bytes of a long phase: a redrawn bar on a TTY, a
// plain line every few seconds otherwise, nothing when W is nil. It is safe
// on a nil *Progress.
type Progress struct {
	W   io.Writer
	TTY bool
	// Every is the interval of plain progress lines (default 5 s).
	Every time.Duration

	mu    sync.Mutex
	phase string
	total int64
	done  int64
	start time.Time
	last  time.Time
}

// Start begins a phase; total is the expected byte count, 0 when unknown.
func (p *Progress) Start(phase string, total int64) {
	if p == nil || p.W == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.phase, p.total, p.done, p.start, p.last = phase, total, 0, time.Now(), time.Now()
}

// Add records n more bytes.
func (p *Progress) Add(n int64) {
	if p == nil || p.W == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	now := time.Now()
	every := p.Every
	if every == 0 {
		every = 5 * time.Second
	}
	if p.TTY && now.Sub(p.last) >= 100*time.Millisecond && now.Sub(p.start) >= 500*time.Millisecond {
		p.last = now
		p.draw()
	} else if !p.TTY && now.Sub(p.last) >= every {
		p.last = now
		fmt.Fprintf(p.W, "%s: %s\n", p.phase, p.status())
	}
}

// Done ends the phase.
func (p *Progress) Done() {
	if p == nil || p.W == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	// Short phases stay silent: progress is for the long ones.
	if time.Since(p.start) < time.Second {
		if p.TTY {
			fmt.Fprint(p.W, "\r\033[K")
		}
		return
	}
	if p.TTY {
		p.draw()
		fmt.Fprintln(p.W)
		return
	}
	fmt.Fprintf(p.W, "%s: done, %s in %s\n", p.phase, HumanBytes(p.done), time.Since(p.start).Round(time.Millisecond))
}

func (p *Progress) status() string {
	el := time.Since(p.start).Seconds()
	rate := ""
	if el > 0 {
		rate = fmt.Sprintf(", %s/s", HumanBytes(int64(float64(p.done)/el)))
	}
	if p.total > 0 {
		return fmt.Sprintf("%s of %s (%.0f%%)%s", HumanBytes(p.done), HumanBytes(p.total), 100*float64(p.done)/float64(p.total), rate)
	}
	return HumanBytes(p.done) + rate
}

func (p *Progress) draw() {
	bar := ""
	if p.total > 0 {
		const width = 30
		n := int(float64(width) * float64(p.done) / float64(p.total))
		n = min(max(n, 0), width)
		bar = "[" + strings.Repeat("#", n) + strings.Repeat(" ", width-n) + "] "
	}
	fmt.Fprintf(p.W, "\r%-22s %s%s   ", p.phase, bar, p.status())
}

// HumanBytes formats a byte count with binary units.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
