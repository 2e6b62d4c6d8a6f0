package dr

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"
)

// MinuteStat is one minute of request logs.
type MinuteStat struct {
	Minute time.Time `json:"minute"`
	Total  int       `json:"total"`
	Errors int       `json:"errors_5xx"`
}

// Rate is the minute's 5xx share of requests.
func (m MinuteStat) Rate() float64 {
	if m.Total == 0 {
		return 0
	}
	return float64(m.Errors) / float64(m.Total)
}

// ErrorRef is one 5xx request, for correlation by request_id.
type ErrorRef struct {
	TS        time.Time `json:"ts"`
	RequestID string    `json:"request_id"`
	Route     string    `json:"route,omitempty"`
	Status    int       `json:"status_code"`
}

// maxErrorRefsPerMinute bounds memory on a log that is all errors.
const maxErrorRefsPerMinute = 50

// LogStats is the analysis of request logs that follow
// docs/ops/log_schema.md: only lines with event=request count.
type LogStats struct {
	Lines    int `json:"lines"`
	Requests int `json:"requests"`
	Errors   int `json:"errors_5xx"`
	BadLines int `json:"bad_lines"`
	// Excluded counts the request lines left out by request_id (see
	// AnalyzeLogsExcluding).
	Excluded int          `json:"excluded,omitempty"`
	Bytes    int64        `json:"bytes"`
	Minutes  []MinuteStat `json:"minutes"`
	// P95MS is the p95 of duration_ms over every request, computed as
	// log_schema.md's jq does: sorted[floor(n*0.95)].
	P95MS float64 `json:"p95_ms"`

	byMinute map[int64]*minuteAcc
}

type minuteAcc struct {
	total, errors int
	durations     []float64
	refs          []ErrorRef
}

// P95Between returns the p95 of duration_ms over requests whose minute is in
// [from, to) (zero times are open ends), and how many requests that was.
func (s *LogStats) P95Between(from, to time.Time) (float64, int) {
	var d []float64
	for k, m := range s.byMinute {
		t := time.Unix(k*60, 0)
		if (!from.IsZero() && t.Before(from.Truncate(time.Minute))) || (!to.IsZero() && !t.Before(to)) {
			continue
		}
		d = append(d, m.durations...)
	}
	return p95(d), len(d)
}

// ErrorsSince returns the 5xx requests at or after from, oldest first.
func (s *LogStats) ErrorsSince(from time.Time) []ErrorRef {
	var out []ErrorRef
	for k, m := range s.byMinute {
		if !from.IsZero() && time.Unix(k*60, 0).Before(from.Truncate(time.Minute)) {
			continue
		}
		out = append(out, m.refs...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TS.Before(out[j].TS) })
	return out
}

// Last returns the minute of the newest request.
func (s *LogStats) Last() time.Time {
	if len(s.Minutes) == 0 {
		return time.Time{}
	}
	return s.Minutes[len(s.Minutes)-1].Minute
}

func p95(d []float64) float64 {
	if len(d) == 0 {
		return math.NaN()
	}
	k := int(float64(len(d)) * 0.95)
	if k >= len(d) {
		k = len(d) - 1
	}
	return quickselect(d, k)
}

// quickselect returns the k-th smallest element, reordering d.
func quickselect(d []float64, k int) float64 {
	lo, hi := 0, len(d)-1
	for lo < hi {
		p := d[lo+(hi-lo)/2]
		i, j := lo, hi
		for i <= j {
			for d[i] < p {
				i++
			}
			for d[j] > p {
				j--
			}
			if i <= j {
				d[i], d[j] = d[j], d[i]
				i++
				j--
			}
		}
		if k <= j {
			hi = j
		} else if k >= i {
			lo = i
		} else {
			return d[k]
		}
	}
	return d[k]
}

// AnalyzeLogs reads JSON request logs and aggregates them per minute. It
// splits the input into blocks and parses them on every core; the fast path
// finds fields by their compact spelling (what casino's logger writes) and
// falls back to encoding/json for any line it cannot read that way.
func AnalyzeLogs(r io.Reader) (*LogStats, error) { return AnalyzeLogsExcluding(r, nil) }

// AnalyzeLogsExcluding is AnalyzeLogs leaving out the request lines whose
// request_id is in exclude: the requests dr itself sent (validate, declare),
// known by the exact ids the server echoed, so they do not judge themselves.
func AnalyzeLogsExcluding(r io.Reader, exclude map[string]bool) (*LogStats, error) {
	const block = 4 << 20
	workers := runtime.GOMAXPROCS(0)
	blocks := make(chan []byte, workers)
	results := make(chan *partial, workers)
	pool := sync.Pool{New: func() any { return make([]byte, 0, block+64<<10) }}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := newPartial()
			p.exclude = exclude
			for b := range blocks {
				p.parseBlock(b)
				pool.Put(b[:0]) //nolint:staticcheck // slices are fine here
			}
			results <- p
		}()
	}
	var total int64
	var readErr error
	carry := []byte{}
	for {
		buf := pool.Get().([]byte)[:0]
		buf = append(buf, carry...)
		if cap(buf)-len(buf) < block {
			buf = append(make([]byte, 0, len(buf)+block), buf...)
		}
		n, err := io.ReadFull(r, buf[len(buf):len(buf)+block])
		buf = buf[:len(buf)+n]
		total += int64(n)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			if len(buf) > 0 {
				blocks <- buf
			}
			break
		}
		if err != nil {
			readErr = err
			break
		}
		cut := bytes.LastIndexByte(buf, '\n')
		if cut < 0 { // a line longer than a block: keep reading into carry
			carry = append([]byte{}, buf...)
			continue
		}
		carry = append(carry[:0], buf[cut+1:]...)
		blocks <- buf[:cut+1]
	}
	close(blocks)
	wg.Wait()
	close(results)
	s := &LogStats{Bytes: total, byMinute: map[int64]*minuteAcc{}}
	var all []float64
	for p := range results {
		s.Lines += p.lines
		s.BadLines += p.bad
		s.Excluded += p.excluded
		for k, m := range p.minutes {
			acc := s.byMinute[k]
			if acc == nil {
				acc = &minuteAcc{}
				s.byMinute[k] = acc
			}
			acc.total += m.total
			acc.errors += m.errors
			acc.durations = append(acc.durations, m.durations...)
			acc.refs = append(acc.refs, m.refs...)
		}
	}
	keys := make([]int64, 0, len(s.byMinute))
	for k, m := range s.byMinute {
		keys = append(keys, k)
		s.Requests += m.total
		s.Errors += m.errors
		if len(m.refs) > maxErrorRefsPerMinute {
			sort.Slice(m.refs, func(i, j int) bool { return m.refs[i].TS.Before(m.refs[j].TS) })
			m.refs = m.refs[len(m.refs)-maxErrorRefsPerMinute:]
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		m := s.byMinute[k]
		s.Minutes = append(s.Minutes, MinuteStat{Minute: time.Unix(k*60, 0).UTC(), Total: m.total, Errors: m.errors})
	}
	if s.Requests > 0 {
		all = make([]float64, 0, s.Requests)
		for _, m := range s.byMinute {
			all = append(all, m.durations...)
		}
		s.P95MS = p95(all)
	}
	return s, readErr
}

type partial struct {
	lines, bad int
	exclude    map[string]bool
	excluded   int
	minutes    map[int64]*minuteAcc
	lastTS     []byte
	lastMin    int64
}

func newPartial() *partial { return &partial{minutes: map[int64]*minuteAcc{}, lastMin: math.MinInt64} }

var (
	keyEventRequest = []byte(`"event":"request"`)
	keyEvent        = []byte(`"event"`)
	keyStatus       = []byte(`"status_code":`)
	keyDuration     = []byte(`"duration_ms":`)
	keyTS           = []byte(`"ts":"`)
	keyRequestID    = []byte(`"request_id":"`)
	keyRoute        = []byte(`"route":"`)
)

func (p *partial) parseBlock(b []byte) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		var line []byte
		if i < 0 {
			line, b = b, nil
		} else {
			line, b = b[:i], b[i+1:]
		}
		if len(line) == 0 || (len(line) == 1 && line[0] == '\r') {
			continue
		}
		p.lines++
		p.parseLine(line)
	}
}

func (p *partial) parseLine(line []byte) {
	if !bytes.Contains(line, keyEventRequest) {
		if bytes.Contains(line, keyEvent) && !bytes.Contains(line, []byte(`"event":"`)) {
			p.slowLine(line) // spaced JSON: let encoding/json decide
		} else if len(bytes.TrimSpace(line)) > 0 && line[0] != '{' {
			p.bad++
		}
		return
	}
	status, ok1 := intAfter(line, keyStatus)
	dur, ok2 := floatAfter(line, keyDuration)
	ts, ok3 := stringAfter(line, keyTS)
	if !ok1 || !ok2 || !ok3 {
		p.slowLine(line)
		return
	}
	min, ok := p.minuteOf(ts)
	if !ok {
		p.slowLine(line)
		return
	}
	if len(p.exclude) > 0 {
		if id, _ := stringAfter(line, keyRequestID); p.exclude[string(id)] {
			p.excluded++
			return
		}
	}
	var ref *ErrorRef
	if status >= 500 {
		id, _ := stringAfter(line, keyRequestID)
		route, _ := stringAfter(line, keyRoute)
		t, _ := time.Parse(time.RFC3339Nano, string(ts))
		ref = &ErrorRef{TS: t, RequestID: string(id), Route: string(route), Status: status}
	}
	p.add(min, status, dur, ref)
}

func (p *partial) add(min int64, status int, dur float64, ref *ErrorRef) {
	m := p.minutes[min]
	if m == nil {
		m = &minuteAcc{}
		p.minutes[min] = m
	}
	m.total++
	m.durations = append(m.durations, dur)
	if status >= 500 {
		m.errors++
		if ref != nil && len(m.refs) < 4*maxErrorRefsPerMinute {
			m.refs = append(m.refs, *ref)
		} else if ref != nil {
			// keep the newest: drop the oldest half
			m.refs = append(m.refs[:0], m.refs[len(m.refs)/2:]...)
			m.refs = append(m.refs, *ref)
		}
	}
}

// slowLine parses a line with encoding/json.
func (p *partial) slowLine(line []byte) {
	var v struct {
		TS         string   `json:"ts"`
		Event      string   `json:"event"`
		StatusCode *int     `json:"status_code"`
		DurationMS *float64 `json:"duration_ms"`
		RequestID  string   `json:"request_id"`
		Route      string   `json:"route"`
	}
	if err := json.Unmarshal(line, &v); err != nil {
		p.bad++
		return
	}
	if v.Event != "request" {
		return
	}
	if v.StatusCode == nil || v.DurationMS == nil {
		p.bad++
		return
	}
	t, err := time.Parse(time.RFC3339Nano, v.TS)
	if err != nil {
		p.bad++
		return
	}
	if p.exclude[v.RequestID] {
		p.excluded++
		return
	}
	var ref *ErrorRef
	if *v.StatusCode >= 500 {
		ref = &ErrorRef{TS: t.UTC(), RequestID: v.RequestID, Route: v.Route, Status: *v.StatusCode}
	}
	p.add(t.Unix()/60, *v.StatusCode, *v.DurationMS, ref)
}

// minuteOf returns the Unix minute of an RFC 3339 UTC timestamp, caching the
// last one: consecutive lines share their minute.
func (p *partial) minuteOf(ts []byte) (int64, bool) {
	if len(ts) < 17 || ts[len(ts)-1] != 'Z' {
		return 0, false
	}
	if p.lastTS != nil && bytes.Equal(ts[:16], p.lastTS) {
		return p.lastMin, true
	}
	n := func(b []byte) int {
		v := 0
		for _, c := range b {
			if c < '0' || c > '9' {
				return -1
			}
			v = v*10 + int(c-'0')
		}
		return v
	}
	y, mo, d, h, mi := n(ts[0:4]), n(ts[5:7]), n(ts[8:10]), n(ts[11:13]), n(ts[14:16])
	if y < 0 || mo < 1 || d < 1 || h < 0 || mi < 0 || ts[4] != '-' || ts[10] != 'T' || ts[13] != ':' {
		return 0, false
	}
	m := time.Date(y, time.Month(mo), d, h, mi, 0, 0, time.UTC).Unix() / 60
	p.lastTS = append(p.lastTS[:0], ts[:16]...)
	p.lastMin = m
	return m, true
}

func intAfter(line, key []byte) (int, bool) {
	i := bytes.Index(line, key)
	if i < 0 {
		return 0, false
	}
	b := line[i+len(key):]
	v, n := 0, 0
	for n < len(b) && b[n] >= '0' && b[n] <= '9' {
		v = v*10 + int(b[n]-'0')
		n++
	}
	return v, n > 0 && (n == len(b) || b[n] == ',' || b[n] == '}')
}

func floatAfter(line, key []byte) (float64, bool) {
	i := bytes.Index(line, key)
	if i < 0 {
		return 0, false
	}
	b := line[i+len(key):]
	var mant uint64
	n, digits, frac := 0, 0, 0
	neg := false
	if n < len(b) && b[n] == '-' {
		neg = true
		n++
	}
	for n < len(b) && b[n] >= '0' && b[n] <= '9' {
		mant = mant*10 + uint64(b[n]-'0')
		n++
		digits++
	}
	if n < len(b) && b[n] == '.' {
		n++
		for n < len(b) && b[n] >= '0' && b[n] <= '9' {
			mant = mant*10 + uint64(b[n]-'0')
			n++
			digits++
			frac++
		}
	}
	if digits == 0 {
		return 0, false
	}
	if n < len(b) && (b[n] == 'e' || b[n] == 'E') || digits > 18 {
		end := n
		for end < len(b) && b[end] != ',' && b[end] != '}' {
			end++
		}
		f, err := strconv.ParseFloat(string(b[:end]), 64)
		return f, err == nil
	}
	f := float64(mant) / pow10[frac]
	if neg {
		f = -f
	}
	return f, n == len(b) || b[n] == ',' || b[n] == '}'
}

var pow10 = func() [19]float64 {
	var p [19]float64
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// stringAfter returns the JSON string after key (which ends with the opening
// quote), or false when it holds an escape (the slow path handles those).
func stringAfter(line, key []byte) ([]byte, bool) {
	i := bytes.Index(line, key)
	if i < 0 {
		return nil, false
	}
	b := line[i+len(key):]
	j := bytes.IndexByte(b, '"')
	if j < 0 || bytes.IndexByte(b[:j], '\\') >= 0 {
		return nil, false
	}
	return b[:j], true
}

// String summarises the stats in one line.
func (s *LogStats) String() string {
	return fmt.Sprintf("%d lines, %d requests, %d 5xx, p95 %.3f ms over %d minutes", s.Lines, s.Requests, s.Errors, s.P95MS, len(s.Minutes))
}
