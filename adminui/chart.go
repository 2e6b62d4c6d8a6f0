package adminui

import (
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"

	"casino"
)

// The readiness charts are drawn here, on the server, as inline SVG: no
// script and no external asset, so they work under the console's CSP and in
// any browser. The viewBox is small and the text large for it, so the chart
// scales down to a phone's width and stays readable.
const (
	chartW, chartH           = 480, 230
	chartLeft, chartRight    = 70, 14
	chartTop, chartBottom    = 20, 38
	chartPointR              = 5.5
	chartMaxPoints           = casino.DRTrendDrills
	chartHeadroom            = 1.15
	chartFontSize            = 16
	chartMinimumAxisSeconds  = 60
	chartTargetLabelMinSpace = 16
)

// trendChart draws one value of each drill (oldest left) against a target
// line. id names the chart (data-chart), what the value ("recovery time"),
// targetName the line's label ("RTO"). A nil target draws no line.
func trendChart(id, title, what, targetName string, points []casino.DrillPoint, value func(casino.DrillPoint) float64, target *float64) template.HTML {
	if len(points) > chartMaxPoints {
		points = points[len(points)-chartMaxPoints:]
	}
	top := float64(chartMinimumAxisSeconds)
	for _, p := range points {
		top = math.Max(top, value(p))
	}
	if target != nil {
		top = math.Max(top, *target)
	}
	top *= chartHeadroom
	plotW := float64(chartW - chartLeft - chartRight)
	plotH := float64(chartH - chartTop - chartBottom)
	y := func(v float64) float64 { return chartTop + plotH - v/top*plotH }
	x := func(i int) float64 {
		if len(points) == 1 {
			return chartLeft + plotW/2
		}
		return chartLeft + plotW*float64(i)/float64(len(points)-1)
	}

	var b strings.Builder
	desc := fmt.Sprintf("%s of the last %d drills, oldest left", what, len(points))
	if target != nil {
		desc += fmt.Sprintf(", against the %s target of %s", targetName, humanSeconds(*target))
	}
	fmt.Fprintf(&b, `<svg class="chart" data-chart="%s" viewBox="0 0 %d %d" role="img" aria-labelledby="%s-title %s-desc" xmlns="http://www.w3.org/2000/svg">`, id, chartW, chartH, id, id)
	fmt.Fprintf(&b, `<title id="%s-title">%s</title><desc id="%s-desc">%s</desc>`, id, template.HTMLEscapeString(title), id, template.HTMLEscapeString(desc))
	// Axes and the 0 / top labels.
	fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%.1f"/>`, chartLeft, chartTop, chartLeft, y(0))
	fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%.1f" x2="%d" y2="%.1f"/>`, chartLeft, y(0), chartW-chartRight, y(0))
	fmt.Fprintf(&b, `<text class="tick" x="%d" y="%.1f" text-anchor="end" font-size="%d">0</text>`, chartLeft-6, y(0)+4, chartFontSize)
	fmt.Fprintf(&b, `<text class="tick" x="%d" y="%.1f" text-anchor="end" font-size="%d">%s</text>`, chartLeft-6, y(top)+10, chartFontSize, humanSeconds(top))
	if target != nil {
		ty := y(*target)
		fmt.Fprintf(&b, `<line class="target" data-target="%s" x1="%d" y1="%.1f" x2="%d" y2="%.1f"/>`, strings.ToLower(targetName), chartLeft, ty, chartW-chartRight, ty)
		ly := ty - 5
		if ly < chartTop+chartTargetLabelMinSpace {
			ly = ty + 15
		}
		fmt.Fprintf(&b, `<text class="target-label" x="%d" y="%.1f" text-anchor="end" font-size="%d">%s %s</text>`, chartW-chartRight, ly, chartFontSize, targetName, humanSeconds(*target))
	}
	if len(points) == 0 {
		fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%.1f" text-anchor="middle" font-size="%d">No drills yet</text>`, chartLeft+plotW/2, chartTop+plotH/2, chartFontSize)
	} else {
		// The trend line first, then the points over it.
		var path []string
		for i, p := range points {
			path = append(path, fmt.Sprintf("%.1f,%.1f", x(i), y(value(p))))
		}
		fmt.Fprintf(&b, `<polyline class="trend" points="%s"/>`, strings.Join(path, " "))
		for i, p := range points {
			class := "pt ok"
			if p.Verdict != casino.DrillSuccessful {
				class = "pt fail"
			}
			over := target != nil && value(p) > *target
			if over {
				class += " over"
			}
			fmt.Fprintf(&b, `<circle class="%s" data-drill="%s" data-value="%.3f" cx="%.1f" cy="%.1f" r="%.1f"><title>%s</title></circle>`,
				class, template.HTMLEscapeString(p.ID), value(p), x(i), y(value(p)), chartPointR,
				template.HTMLEscapeString(fmt.Sprintf("%s · %s · %s %s", p.StartedAt.UTC().Format("2006-01-02 15:04 UTC"), p.Verdict, what, humanSeconds(value(p)))))
		}
		first, last := points[0].StartedAt.UTC().Format("Jan 2"), points[len(points)-1].StartedAt.UTC().Format("Jan 2")
		fmt.Fprintf(&b, `<text class="tick" x="%d" y="%d" font-size="%d">%s</text>`, chartLeft, chartH-10, chartFontSize, first)
		if len(points) > 1 {
			fmt.Fprintf(&b, `<text class="tick" x="%d" y="%d" text-anchor="end" font-size="%d">%s</text>`, chartW-chartRight, chartH-10, chartFontSize, last)
		}
	}
	b.WriteString(`</svg>`)
	// Every value written above is a number, a formatted time or escaped.
	return template.HTML(b.String())
}

// humanSeconds is a short duration: 45s, 12m, 1h 5m, 2d 3h.
func humanSeconds(s float64) string {
	d := time.Duration(s * float64(time.Second)).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		m, sec := int(d.Minutes()), int(d.Seconds())%60
		if sec == 0 || m >= 10 {
			return fmt.Sprintf("%dm", m)
		}
		return fmt.Sprintf("%dm %ds", m, sec)
	case d < 48*time.Hour:
		h, m := int(d.Hours()), int(d.Minutes())%60
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh %dm", h, m)
	}
	days, h := int(d.Hours())/24, int(d.Hours())%24
	if h == 0 {
		return fmt.Sprintf("%dd", days)
	}
	return fmt.Sprintf("%dd %dh", days, h)
}
