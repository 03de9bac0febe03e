package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/baton-runner/baton-runner/host/localsync"
)

// progress shows, on one terminal line, how many resources, entitlements
// and grants of each type the sync has stored so far.
type progress struct {
	mu     sync.Mutex
	w      io.Writer
	counts map[string]map[string]int // phase → resource type → items
	last   time.Time
}

func newProgress(w io.Writer) *progress {
	return &progress{w: w, counts: map[string]map[string]int{}}
}

var phaseNames = map[string]string{
	"list-resources":    "resources",
	"list-entitlements": "entitlements",
	"list-grants":       "grants",
}

func (p *progress) update(pr *localsync.Progress) {
	phase, ok := phaseNames[pr.Action]
	if !ok || pr.ResourceTypeID == "" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.counts[phase] == nil {
		p.counts[phase] = map[string]int{}
	}
	p.counts[phase][pr.ResourceTypeID] += int(pr.Count)
	if time.Since(p.last) > 100*time.Millisecond {
		p.last = time.Now()
		p.draw(phase)
	}
}

func (p *progress) draw(phase string) {
	types := make([]string, 0, len(p.counts[phase]))
	for t := range p.counts[phase] {
		types = append(types, t)
	}
	sort.Strings(types)
	parts := make([]string, len(types))
	for i, t := range types {
		parts[i] = fmt.Sprintf("%s %d", t, p.counts[phase][t])
	}
	fmt.Fprintf(p.w, "\r\033[Ksyncing %s: %s", phase, strings.Join(parts, ", "))
}

// done ends the progress line.
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.last.IsZero() {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
