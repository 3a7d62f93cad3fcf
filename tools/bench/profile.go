package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// perfProfile samples a running process's CPU with Linux perf, the way
// pprof would if the binary served it: Docket's processes have no pprof
// endpoint and must be measured as they ship.
type perfProfile struct {
	name string
	data string
	cmd  *exec.Cmd
}

// startPerf starts sampling pid; it returns nil when perf is not usable.
func startPerf(dir, name string, pid int) *perfProfile {
	bin, err := exec.LookPath("perf")
	if err != nil {
		return nil
	}
	p := &perfProfile{name: name, data: filepath.Join(dir, name+".perf.data")}
	p.cmd = exec.Command(bin, "record", "-q", "-F", "499", "-g", "-p", fmt.Sprint(pid), "-o", p.data)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		return nil
	}
	return p
}

// cpuShare is one line of a profile summary.
type cpuShare struct {
	What string
	Pct  float64
}

// Stop ends sampling and summarizes: self time grouped by Go package (or
// kernel), and the inclusive time of the functions under focus (a
// package path prefix).
func (p *perfProfile) Stop(focus string) (byPkg, inclusive []cpuShare, err error) {
	if p == nil {
		return nil, nil, fmt.Errorf("perf is not available")
	}
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		return nil, nil, fmt.Errorf("perf record did not stop")
	}
	self, err := perfReport(p.data, "--no-children")
	if err != nil {
		return nil, nil, err
	}
	pkgs := map[string]float64{}
	for _, s := range self {
		pkgs[packageOf(s.What)] += s.Pct
	}
	for k, v := range pkgs {
		byPkg = append(byPkg, cpuShare{k, v})
	}
	slices.SortFunc(byPkg, func(a, b cpuShare) int { return -cmpF(a.Pct, b.Pct) })
	children, err := perfReport(p.data, "--children")
	if err != nil {
		return nil, nil, err
	}
	for _, s := range children {
		// Method values ("-fm") repeat their method's line.
		if strings.HasPrefix(s.What, focus) && !strings.Contains(s.What, "-fm") {
			inclusive = append(inclusive, s)
		}
	}
	slices.SortFunc(inclusive, func(a, b cpuShare) int { return -cmpF(a.Pct, b.Pct) })
	return byPkg, inclusive, nil
}

func cmpF(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// reportLine is "  12.34%  1.00%  [.] symbol" (children) or "  1.00%  [.] symbol".
var trailingCols = regexp.MustCompile(`(\s+-)+\s*$`)

var reportLine = regexp.MustCompile(`^\s*([0-9.]+)%\s+(?:[0-9.]+%\s+)?\[([.k])\]\s+(.*?)\s*$`)

func perfReport(data, mode string) ([]cpuShare, error) {
	out, err := exec.Command("perf", "report", "-i", data, mode, "--sort", "symbol", "--stdio", "-g", "none").Output()
	if err != nil {
		return nil, fmt.Errorf("perf report: %w", err)
	}
	var shares []cpuShare
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := reportLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		pct, _ := strconv.ParseFloat(m[1], 64)
		sym := trailingCols.ReplaceAllString(m[3], "")
		if m[2] == "k" {
			sym = "[kernel] " + sym
		}
		shares = append(shares, cpuShare{sym, pct})
	}
	return shares, sc.Err()
}

// packageOf names the Go package of a symbol, folding the runtime's parts.
func packageOf(sym string) string {
	switch {
	case strings.HasPrefix(sym, "[kernel]"):
		return "kernel (syscalls, network, scheduling)"
	case strings.HasPrefix(sym, "runtime.") || strings.HasPrefix(sym, "internal/runtime") || strings.HasPrefix(sym, "gcWriteBarrier"):
		return "Go runtime (GC, scheduler, allocation)"
	}
	slash := strings.LastIndexByte(sym, '/')
	dot := strings.IndexByte(sym[slash+1:], '.')
	if dot < 0 {
		return "other"
	}
	pkg := sym[:slash+1+dot]
	for _, group := range []string{"google.golang.org/grpc", "google.golang.org/protobuf", "go.temporal.io/sdk", "go.temporal.io/api", "golang.org/x/net"} {
		if strings.HasPrefix(pkg, group) {
			return group
		}
	}
	return pkg
}

// shareTable lists the top n shares.
func shareTable(header string, shares []cpuShare, n int) *Table {
	t := &Table{Header: []string{header, "% of samples"}}
	for i, s := range shares {
		if i == n {
			break
		}
		t.Add("`"+s.What+"`", fmt.Sprintf("%.1f", s.Pct))
	}
	return t
}

// profileBlock runs one more, untimed block of API jobs while perf samples
// the API, the worker and the server, for the report's last section.
func profileBlock(ctx context.Context, b *Bench, s side, roles roleSet) {
	names := []string{"API (bin/docket-api)", "worker (bin/worker)", "Temporal dev server"}
	focus := []string{"github.com/docket-dev/docket/", "github.com/docket-dev/docket/", "go.temporal.io/server/service/"}
	var ps []*perfProfile
	for _, n := range names {
		ps = append(ps, startPerf(b.Env.Dir, fmt.Sprintf("pid%d", roles.pid[n]), roles.pid[n]))
	}
	if ps[0] == nil {
		b.Profiles = append(b.Profiles, profileResult{err: fmt.Errorf("perf is not installed or not permitted")})
		return
	}
	time.Sleep(300 * time.Millisecond) // let perf attach
	closedLoop(ctx, b.Set.TrivialConc, b.Set.TrivialJobs, s.fire)
	for i, p := range ps {
		byPkg, incl, err := p.Stop(focus[i])
		b.Profiles = append(b.Profiles, profileResult{process: names[i], focus: focus[i], byPkg: byPkg, inclusive: incl, err: err})
	}
}

// profileResult is one process's CPU profile summary.
type profileResult struct {
	process   string
	focus     string
	byPkg     []cpuShare
	inclusive []cpuShare
	err       error
}
