package bench

import (
	"bufio"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// opStats are a server's frontend request counters by operation, from its
// Prometheus endpoint: how many calls and how long they took in total.
type opStats map[string]struct {
	N   float64
	Sum float64 // seconds
}

var opLine = regexp.MustCompile(`^service_latency_(sum|count)\{.*operation="([^"]+)".*service_name="frontend".*\} ([0-9.eE+-]+)$`)

func scrapeOps(metricsAddr string) (opStats, error) {
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := opStats{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := opLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			continue
		}
		s := out[m[2]]
		if m[1] == "sum" {
			s.Sum += v
		} else {
			s.N += v
		}
		out[m[2]] = s
	}
	return out, sc.Err()
}

// since is the calls made from before to s.
func (s opStats) since(before opStats) opStats {
	d := opStats{}
	for op, v := range s {
		b := before[op]
		if v.N-b.N > 0 {
			d[op] = struct{ N, Sum float64 }{v.N - b.N, v.Sum - b.Sum}
		}
	}
	return d
}

// add accumulates o into s.
func (s opStats) add(o opStats) {
	for op, v := range o {
		x := s[op]
		x.N += v.N
		x.Sum += v.Sum
		s[op] = x
	}
}

// opsTable lists the frontend calls per job of each column's op stats, with
// their mean server-side latency. Long polls are worker polls or result
// waits: their latency is mostly waiting.
func opsTable(cols []string, stats []opStats, jobs []int) *Table {
	t := &Table{Header: []string{"frontend operation"}}
	for _, c := range cols {
		t.Header = append(t.Header, c+": calls per job", c+": mean ms")
	}
	var ops []string
	seen := map[string]bool{}
	for _, s := range stats {
		for op, v := range s {
			// Worker polls come from pollers, not jobs (and a worker now
			// polls several queues): they say nothing per job.
			if strings.HasPrefix(op, "Poll") && strings.HasSuffix(op, "TaskQueue") {
				continue
			}
			if !seen[op] && v.N > 0 {
				seen[op] = true
				ops = append(ops, op)
			}
		}
	}
	slices.Sort(ops)
	for _, op := range ops {
		row := []string{op}
		keep := false
		for i, s := range stats {
			v := s[op]
			per := v.N / float64(max(jobs[i], 1))
			keep = keep || per >= 0.05
			mean := "-"
			if v.N > 0 {
				mean = ms(time.Duration(v.Sum / v.N * float64(time.Second)))
			}
			row = append(row, fmt.Sprintf("%.2f", per), mean)
		}
		if keep {
			t.Add(row...)
		}
	}
	return t
}
