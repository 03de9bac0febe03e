package main

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// sample is one series of a scrape.
type sample struct {
	labels map[string]string // __name__ included while the series is raw
	value  float64
}

// scrape parses a /metrics body into series, histograms as their _bucket,
// _sum and _count series, as Prometheus stores them.
func scrape(body string) ([]sample, error) {
	families, err := new(expfmt.TextParser).TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	var out []sample
	add := func(name string, m *dto.Metric, v float64, extra ...string) {
		l := map[string]string{"__name__": name}
		for _, p := range m.GetLabel() {
			l[p.GetName()] = p.GetValue()
		}
		for i := 0; i+1 < len(extra); i += 2 {
			l[extra[i]] = extra[i+1]
		}
		out = append(out, sample{l, v})
	}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			switch {
			case m.GetHistogram() != nil:
				h := m.GetHistogram()
				for _, b := range h.GetBucket() {
					add(name+"_bucket", m, float64(b.GetCumulativeCount()), "le", strconv.FormatFloat(b.GetUpperBound(), 'g', -1, 64))
				}
				add(name+"_bucket", m, float64(h.GetSampleCount()), "le", "+Inf")
				add(name+"_sum", m, h.GetSampleSum())
				add(name+"_count", m, float64(h.GetSampleCount()))
			case m.GetCounter() != nil:
				add(name, m, m.GetCounter().GetValue())
			case m.GetGauge() != nil:
				add(name, m, m.GetGauge().GetValue())
			case m.GetUntyped() != nil:
				add(name, m, m.GetUntyped().GetValue())
			}
		}
	}
	return out, nil
}

// promql evaluates the part of PromQL that deploy/monitoring uses, at the
// end of a run, over its one scrape: the process started within every
// range the queries use, so a counter's increase over the range is its
// value, and rate is that over the range's length (as Prometheus's rate
// of a series that began inside its range, without extrapolation).
// Selectors, comparisons that filter, arithmetic, `unless on (…)`, `or`,
// sum by, count, time(), vector(), rate, increase and histogram_quantile.
type promql struct {
	series []sample
	now    time.Time
	toks   []string
	pos    int
}

// value is a scalar (vec nil, scalar set) or an instant vector.
type value struct {
	scalar   float64
	isScalar bool
	vec      []sample
}

func evalPromQL(expr string, series []sample, now time.Time) (v value, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%q: %v", expr, r)
		}
	}()
	p := &promql{series: series, now: now, toks: tokenize(expr)}
	v = p.or()
	if p.pos != len(p.toks) {
		panic(fmt.Sprintf("unexpected %q", p.toks[p.pos]))
	}
	return v, nil
}

func tokenize(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\n' || c == '\t':
			i++
		case strings.ContainsRune("(){}[],*/+-", rune(c)):
			out = append(out, string(c))
			i++
		case strings.ContainsRune("=!<>", rune(c)):
			j := i + 1
			if j < len(s) && s[j] == '=' || c == '=' && j < len(s) && s[j] == '~' {
				j++
			}
			out = append(out, s[i:j])
			i = j
		case c == '"':
			j := strings.IndexByte(s[i+1:], '"') + i + 1
			out = append(out, s[i:j+1])
			i = j + 1
		default:
			j := i
			for j < len(s) && (isWord(s[j])) {
				j++
			}
			if j == i {
				panic(fmt.Sprintf("bad character %q", c))
			}
			out = append(out, s[i:j])
			i = j
		}
	}
	return out
}

func isWord(c byte) bool {
	return c == '_' || c == '.' || c == ':' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func (p *promql) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *promql) next() string { t := p.peek(); p.pos++; return t }

func (p *promql) expect(t string) {
	if got := p.next(); got != t {
		panic(fmt.Sprintf("want %q, got %q", t, got))
	}
}

func (p *promql) labelList() []string {
	p.expect("(")
	var out []string
	for p.peek() != ")" {
		out = append(out, p.next())
		if p.peek() == "," {
			p.next()
		}
	}
	p.expect(")")
	return out
}

func (p *promql) or() value {
	v := p.unless()
	for p.peek() == "or" {
		p.next()
		r := p.unless()
		seen := map[string]bool{}
		for _, s := range v.vec {
			seen[key(s.labels, nil)] = true
		}
		for _, s := range r.vec {
			if !seen[key(s.labels, nil)] {
				v.vec = append(v.vec, s)
			}
		}
	}
	return v
}

func (p *promql) unless() value {
	v := p.cmp()
	for p.peek() == "unless" {
		p.next()
		var on []string
		if p.peek() == "on" {
			p.next()
			on = p.labelList()
		}
		r := p.cmp()
		drop := map[string]bool{}
		for _, s := range r.vec {
			drop[key(s.labels, on)] = true
		}
		var kept []sample
		for _, s := range v.vec {
			if !drop[key(s.labels, on)] {
				kept = append(kept, s)
			}
		}
		v.vec = kept
	}
	return v
}

var comparisons = map[string]func(a, b float64) bool{
	">": func(a, b float64) bool { return a > b }, ">=": func(a, b float64) bool { return a >= b },
	"<": func(a, b float64) bool { return a < b }, "<=": func(a, b float64) bool { return a <= b },
	"==": func(a, b float64) bool { return a == b }, "!=": func(a, b float64) bool { return a != b },
}

func (p *promql) cmp() value {
	v := p.add()
	op, ok := comparisons[p.peek()]
	if !ok {
		return v
	}
	p.next()
	r := p.add()
	if !r.isScalar {
		panic("only comparisons with a scalar are supported")
	}
	var kept []sample
	for _, s := range v.vec {
		if op(s.value, r.scalar) {
			kept = append(kept, s)
		}
	}
	return value{vec: kept}
}

var arithmetic = map[string]func(a, b float64) float64{
	"+": func(a, b float64) float64 { return a + b }, "-": func(a, b float64) float64 { return a - b },
	"*": func(a, b float64) float64 { return a * b }, "/": func(a, b float64) float64 { return a / b },
}

func (p *promql) add() value {
	v := p.mul()
	for p.peek() == "+" || p.peek() == "-" {
		op := arithmetic[p.next()]
		v = apply(v, p.mul(), op)
	}
	return v
}

func (p *promql) mul() value {
	v := p.unary()
	for p.peek() == "*" || p.peek() == "/" {
		op := arithmetic[p.next()]
		v = apply(v, p.unary(), op)
	}
	return v
}

func apply(a, b value, op func(a, b float64) float64) value {
	switch {
	case a.isScalar && b.isScalar:
		return value{scalar: op(a.scalar, b.scalar), isScalar: true}
	case a.isScalar:
		return value{vec: mapVec(b.vec, func(x float64) float64 { return op(a.scalar, x) })}
	case b.isScalar:
		return value{vec: mapVec(a.vec, func(x float64) float64 { return op(x, b.scalar) })}
	}
	panic("vector-vector arithmetic is not supported")
}

func mapVec(in []sample, f func(float64) float64) []sample {
	out := make([]sample, 0, len(in))
	for _, s := range in {
		l := maps.Clone(s.labels)
		delete(l, "__name__")
		out = append(out, sample{l, f(s.value)})
	}
	return out
}

func (p *promql) unary() value {
	t := p.next()
	if n, err := strconv.ParseFloat(t, 64); err == nil {
		return value{scalar: n, isScalar: true}
	}
	switch t {
	case "(":
		v := p.or()
		p.expect(")")
		return v
	case "time":
		p.expect("(")
		p.expect(")")
		return value{scalar: float64(p.now.Unix()), isScalar: true}
	case "vector":
		p.expect("(")
		v := p.or()
		p.expect(")")
		return value{vec: []sample{{map[string]string{}, v.scalar}}}
	case "rate", "increase":
		p.expect("(")
		v, window := p.selector(p.next())
		p.expect(")")
		if window == 0 {
			panic(t + " needs a range")
		}
		if t == "rate" {
			return value{vec: mapVec(v, func(x float64) float64 { return x / window.Seconds() })}
		}
		return value{vec: mapVec(v, func(x float64) float64 { return x })}
	case "sum", "count":
		var by []string
		if p.peek() == "by" {
			p.next()
			by = p.labelList()
		}
		p.expect("(")
		v := p.or()
		p.expect(")")
		groups := map[string]*sample{}
		for _, s := range v.vec {
			k := key(s.labels, by)
			if groups[k] == nil {
				l := map[string]string{}
				for _, b := range by {
					l[b] = s.labels[b]
				}
				groups[k] = &sample{labels: l}
			}
			if t == "sum" {
				groups[k].value += s.value
			} else {
				groups[k].value++
			}
		}
		var out []sample
		for _, g := range groups {
			out = append(out, *g)
		}
		return value{vec: out}
	case "histogram_quantile":
		p.expect("(")
		q := p.or().scalar
		p.expect(",")
		v := p.or()
		p.expect(")")
		return value{vec: quantiles(q, v.vec)}
	}
	v, window := p.selector(t)
	if window != 0 {
		panic("a range vector outside rate or increase")
	}
	return value{vec: v}
}

// selector reads name{matchers}[range] and returns the series it selects.
func (p *promql) selector(name string) ([]sample, time.Duration) {
	type matcher struct{ label, op, value string }
	matchers := []matcher{{"__name__", "=", name}}
	if p.peek() == "{" {
		p.next()
		for p.peek() != "}" {
			l, op, v := p.next(), p.next(), p.next()
			matchers = append(matchers, matcher{l, op, strings.Trim(v, `"`)})
			if p.peek() == "," {
				p.next()
			}
		}
		p.expect("}")
	}
	var window time.Duration
	if p.peek() == "[" {
		p.next()
		d, err := time.ParseDuration(p.next())
		if err != nil {
			panic(err)
		}
		window = d
		p.expect("]")
	}
	var out []sample
	for _, s := range p.series {
		ok := true
		for _, m := range matchers {
			switch m.op {
			case "=":
				ok = ok && s.labels[m.label] == m.value
			case "!=":
				ok = ok && s.labels[m.label] != m.value
			default:
				panic("matcher " + m.op + " is not supported")
			}
		}
		if ok {
			out = append(out, s)
		}
	}
	return out, window
}

// quantiles is histogram_quantile over bucket series grouped by their
// labels other than le, interpolating linearly within the bucket.
func quantiles(q float64, buckets []sample) []sample {
	type bucket struct{ le, count float64 }
	groups := map[string][]bucket{}
	labels := map[string]map[string]string{}
	for _, s := range buckets {
		le, err := strconv.ParseFloat(s.labels["le"], 64)
		if err != nil {
			panic(err)
		}
		k := key(s.labels, nil, "le")
		groups[k] = append(groups[k], bucket{le, s.value})
		l := maps.Clone(s.labels)
		delete(l, "le")
		delete(l, "__name__")
		labels[k] = l
	}
	var out []sample
	for k, bs := range groups {
		sort.Slice(bs, func(i, j int) bool { return bs[i].le < bs[j].le })
		total := bs[len(bs)-1].count
		v := math.NaN()
		if total > 0 {
			rank, prevLE, prevCount := q*total, 0.0, 0.0
			for _, b := range bs {
				if b.count >= rank {
					v = b.le
					if !math.IsInf(b.le, 1) && b.count > prevCount {
						v = prevLE + (b.le-prevLE)*(rank-prevCount)/(b.count-prevCount)
					} else if math.IsInf(b.le, 1) {
						v = prevLE
					}
					break
				}
				prevLE, prevCount = b.le, b.count
			}
		}
		out = append(out, sample{labels[k], v})
	}
	return out
}

// key identifies a series by the labels in on (all but __name__ and
// without, when on is nil).
func key(l map[string]string, on []string, without ...string) string {
	names := on
	if names == nil {
		for n := range l {
			if n != "__name__" && !slices.Contains(without, n) {
				names = append(names, n)
			}
		}
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s=%q,", n, l[n])
	}
	return b.String()
}
