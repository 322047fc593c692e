package suite

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// progress draws one line, redrawn with \r: a bar of the steps done, the
// elapsed time and what runs now (with a count for long steps).
type progress struct {
	mu      sync.Mutex
	w       io.Writer
	total   int
	done    int
	label   string
	sub     string
	start   time.Time
	lastSub time.Time
	width   int // of the last line drawn, to blank what a shorter line leaves
}

const (
	barWidth = 30
	maxLine  = 110 // characters: keep the line on one terminal row
)

func newProgress(w io.Writer, total int) *progress {
	return &progress{w: w, total: max(total, 1), start: time.Now()}
}

// step marks the step that ran as done and names the one that starts; the
// count is capped below the planned total (reach corrects it).
func (p *progress) step(label string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.label != "" && p.done < p.total-1 {
		p.done++
	}
	p.label, p.sub = label, ""
	p.drawLocked()
}

// count shows how far a long step is (done of total), at most 10 times a second.
func (p *progress) count(done, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.lastSub) < 100*time.Millisecond && done < total {
		return
	}
	p.lastSub = time.Now()
	p.sub = fmt.Sprintf(" %d/%d", done, total)
	p.drawLocked()
}

// reach sets the steps done (at the end of a scenario) and names it.
func (p *progress) reach(done int, label string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done, p.label, p.sub = min(done, p.total), "", ""
	p.drawLabel(label, "")
}

func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.w != nil {
		fmt.Fprintln(p.w)
	}
}

func (p *progress) drawLocked() { p.drawLabel(p.label, p.sub) }

// drawLabel redraws the line; a label too long for it is cut, the count never.
func (p *progress) drawLabel(label, sub string) {
	if p.w == nil {
		return
	}
	filled := p.done * barWidth / p.total
	head := fmt.Sprintf("[%s%s] %3d%% %5.0fs  ", strings.Repeat("#", filled), strings.Repeat("-", barWidth-filled),
		p.done*100/p.total, time.Since(p.start).Seconds())
	if room := maxLine - utf8.RuneCountInString(head) - utf8.RuneCountInString(sub); utf8.RuneCountInString(label) > room {
		label = string([]rune(label)[:max(room-1, 0)]) + "…"
	}
	line := head + label + sub
	n := utf8.RuneCountInString(line)
	pad := ""
	if n < p.width {
		pad = strings.Repeat(" ", p.width-n)
	}
	p.width = n
	fmt.Fprint(p.w, "\r"+line+pad)
}
