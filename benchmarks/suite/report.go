package suite

import (
	"fmt"
	"html"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteTable prints the result as a table: scenario, figure, pushd's value,
// its p50/p99, the baseline and its p50/p99, the ratio, the bar and whether
// it is reached. A scenario that failed shows its error.
func (r *Result) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tfigure\tpushd\tp50 / p99 ms\tbaseline\tbaseline p50 / p99\tratio\tbar\tresult")
	for _, s := range r.Scenarios {
		for _, f := range s.Figures {
			base, ratio, blat := "—", "—", "—"
			if f.Baseline > 0 {
				base = formatValue(f.Baseline, f.Unit)
				ratio = strconv.FormatFloat(f.Ratio, 'f', 2, 64)
			}
			if f.BaselineP50Ms > 0 || f.BaselineP99Ms > 0 {
				blat = fmt.Sprintf("%s / %s", formatMs(f.BaselineP50Ms), formatMs(f.BaselineP99Ms))
			}
			lat := "—"
			if f.P50Ms > 0 || f.P99Ms > 0 {
				lat = fmt.Sprintf("%s / %s", formatMs(f.P50Ms), formatMs(f.P99Ms))
			}
			bar, result := "—", "—"
			if f.Bar != nil {
				bar, result = f.Bar.Text, "FAIL"
				if f.Bar.Pass {
					result = "pass"
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, f.Name, formatValue(f.Value, f.Unit), lat, base, blat, ratio, bar, result)
		}
		if s.Error != "" {
			msg := s.Error
			if i := strings.IndexByte(msg, '\n'); i >= 0 {
				msg = msg[:i]
			}
			fmt.Fprintf(tw, "%s\tERROR: %s\t\t\t\t\t\t\tERROR\n", s.Name, msg)
		}
	}
	return tw.Flush()
}

// Summary counts the bars reached and missed and the scenarios that failed.
func (r *Result) Summary() (pass, fail, errs int) {
	for _, s := range r.Scenarios {
		if s.Error != "" {
			errs++
		}
		for _, f := range s.Figures {
			if f.Bar == nil {
				continue
			}
			if f.Bar.Pass {
				pass++
			} else {
				fail++
			}
		}
	}
	return pass, fail, errs
}

func formatValue(v float64, unit string) string {
	switch {
	case strings.HasSuffix(unit, "/s"):
		return commas(int64(math.Round(v))) + " " + unit
	case unit == "ms":
		return formatMs(v) + " ms"
	case unit == "B/user":
		return commas(int64(math.Round(v))) + " " + unit
	default:
		return strconv.FormatFloat(v, 'f', 1, 64) + " " + unit
	}
}

func formatMs(v float64) string {
	switch {
	case v >= 100:
		return commas(int64(math.Round(v)))
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

// SVG draws the result by hand: per figure, pushd's value against its
// baseline (or against its bar, for times and memory) on the left, and the
// latency percentiles p50/p99 of pushd and the baseline on the right. Each
// row has its own scale; the numbers are written on the bars.
func (r *Result) SVG() []byte {
	const (
		width  = 1180
		left   = 20
		mid    = 600
		barMax = 330 // pixels of the longest bar in a row
		rowH   = 66
		headH  = 30
	)
	var b strings.Builder
	y := 84
	var body strings.Builder
	text := func(x, y int, size int, weight, fill, anchor, s string) {
		fmt.Fprintf(&body, `<text x="%d" y="%d" font-size="%d" font-weight="%s" fill="%s" text-anchor="%s">%s</text>`+"\n",
			x, y, size, weight, fill, anchor, html.EscapeString(s))
	}
	bar := func(x, y, w int, color, label string) {
		w = max(w, 1)
		fmt.Fprintf(&body, `<rect x="%d" y="%d" width="%d" height="12" fill="%s" rx="2"/>`+"\n", x, y, w, color)
		text(x+w+6, y+10, 11, "normal", "#222", "start", label)
	}
	scale := func(v, top float64) int {
		if top <= 0 || v <= 0 {
			return 0
		}
		return int(v / top * barMax)
	}
	const (
		pushdColor = "#2b6cb0"
		baseColor  = "#a0aec0"
		p99Color   = "#90cdf4"
		bp99Color  = "#cbd5e0"
	)
	for _, s := range r.Scenarios {
		text(left, y, 16, "bold", "#111", "start", s.Title+" ("+s.Name+")")
		if s.Error != "" {
			msg := s.Error
			if i := strings.IndexByte(msg, '\n'); i >= 0 {
				msg = msg[:i]
			}
			text(left+10, y+18, 12, "normal", "#c53030", "start", "error: "+msg)
			y += 20
		}
		y += headH - 10
		for _, f := range s.Figures {
			name := f.Name
			if f.Bar != nil {
				verdict, color := "FAIL", "#c53030"
				if f.Bar.Pass {
					verdict, color = "pass", "#2f855a"
				}
				text(width-20, y+12, 12, "bold", color, "end", verdict+" ("+f.Bar.Text+")")
			}
			text(left, y+12, 12, "bold", "#333", "start", name)
			// Left: value against the baseline, or against the bar.
			top := max(f.Value, f.Baseline)
			threshold := 0.0
			if f.Bar != nil && f.Bar.On == "value" {
				threshold = f.Bar.Threshold
				top = max(top, threshold)
			}
			bar(left+70, y+22, scale(f.Value, top), pushdColor, formatValue(f.Value, f.Unit))
			text(left+64, y+32, 11, "normal", "#555", "end", "pushd")
			if f.Baseline > 0 {
				bar(left+70, y+40, scale(f.Baseline, top), baseColor, formatValue(f.Baseline, f.Unit)+fmt.Sprintf("   ratio %.2f", f.Ratio))
				text(left+64, y+50, 11, "normal", "#555", "end", "baseline")
			}
			if threshold > 0 {
				x := left + 70 + scale(threshold, top)
				fmt.Fprintf(&body, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#c53030" stroke-dasharray="4,3"/>`+"\n", x, y+18, x, y+56)
				text(x, y+63, 10, "normal", "#c53030", "middle", "bar "+formatValue(threshold, f.Unit))
			}
			// Right: latency percentiles, p99 (light) under p50 (dark).
			ltop := max(f.P50Ms, f.P99Ms, f.BaselineP50Ms, f.BaselineP99Ms)
			lat := func(y int, who string, p50, p99 float64, dark, light string) {
				text(mid+64, y+10, 11, "normal", "#555", "end", who)
				w99, w50 := max(scale(p99, ltop), 1), max(scale(p50, ltop), 1)
				fmt.Fprintf(&body, `<rect x="%d" y="%d" width="%d" height="12" fill="%s" rx="2"/>`+"\n", mid+70, y, w99, light)
				fmt.Fprintf(&body, `<rect x="%d" y="%d" width="%d" height="12" fill="%s" rx="2"/>`+"\n", mid+70, y, w50, dark)
				text(mid+70+max(w99, w50)+6, y+10, 11, "normal", "#222", "start", "p50 "+formatMs(p50)+" · p99 "+formatMs(p99)+" ms")
			}
			if ltop > 0 {
				lat(y+22, "pushd", f.P50Ms, f.P99Ms, pushdColor, p99Color)
				if f.BaselineP50Ms > 0 || f.BaselineP99Ms > 0 {
					lat(y+40, "baseline", f.BaselineP50Ms, f.BaselineP99Ms, baseColor, bp99Color)
				}
			}
			y += rowH
		}
		y += 22
	}
	height := y + 20
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Helvetica, Arial, sans-serif">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", width, height)
	title := fmt.Sprintf("pushd benchmark suite — %s, scale %g, %d CPUs, %s", r.Started.Format("2006-01-02 15:04:05"), r.Scale, r.Machine.NumCPU, r.Machine.GoVersion)
	fmt.Fprintf(&b, `<text x="%d" y="28" font-size="18" font-weight="bold" fill="#111">%s</text>`+"\n", left, html.EscapeString(title))
	fmt.Fprintf(&b, `<text x="%d" y="48" font-size="12" fill="#555">left: throughput / value of pushd against its baseline measured in the same run (or its bar, dashed); right: latency p50 (dark) and p99 (light) in ms</text>`+"\n", left)
	b.WriteString(body.String())
	b.WriteString("</svg>\n")
	return []byte(b.String())
}
