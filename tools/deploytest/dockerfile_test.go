package deploytest

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	Cmd  string // upper case: FROM, RUN, COPY, ARG…
	Args string
	Line int
}

// parseDockerfile reads the instructions of a Dockerfile: comments and
// blank lines dropped, lines ending in a backslash joined to the next.
func parseDockerfile(t *testing.T, path string) []instruction {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []instruction
	var cur strings.Builder
	start := 0
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && cur.Len() == 0) {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		cont := strings.HasSuffix(line, `\`)
		cur.WriteString(strings.TrimSuffix(line, `\`))
		cur.WriteString(" ")
		if cont {
			continue
		}
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		cmd, args, _ := strings.Cut(text, " ")
		out = append(out, instruction{Cmd: strings.ToUpper(cmd), Args: strings.Join(strings.Fields(args), " "), Line: start})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// stage is one build stage: its base and its instructions.
type stage struct {
	Name, From string
	Body       []instruction
}

func dockerfileStages(t *testing.T) map[string]*stage {
	t.Helper()
	stages := map[string]*stage{}
	var cur *stage
	for _, in := range parseDockerfile(t, filepath.Join(root, "Dockerfile")) {
		if in.Cmd == "FROM" {
			f := strings.Fields(in.Args)
			cur = &stage{From: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				cur.Name = f[2]
				stages[cur.Name] = cur
			}
			continue
		}
		if cur != nil {
			cur.Body = append(cur.Body, in)
		}
	}
	return stages
}

// shellCommands splits a RUN instruction's shell text into its commands.
func shellCommands(run string) []string {
	// Drop RUN's own flags (--mount=…).
	f := strings.Fields(run)
	for len(f) > 0 && strings.HasPrefix(f[0], "--") {
		f = f[1:]
	}
	var out []string
	for _, c := range regexp.MustCompile(`&&|;|\|\|`).Split(strings.Join(f, " "), -1) {
		if c = strings.TrimSpace(c); c != "" {
			out = append(out, c)
		}
	}
	return out
}

// goBuilds normalizes `go build` commands: the output folder, $(BIN) in
// make and ${BIN} or $BIN in the shell, becomes <bin>.
func goBuilds(cmds []string) []string {
	bin := regexp.MustCompile(`\$\(BIN\)|\$\{BIN\}|\$BIN\b`)
	var out []string
	for _, c := range cmds {
		c = strings.Join(strings.Fields(c), " ")
		if strings.HasPrefix(c, "go build") {
			out = append(out, bin.ReplaceAllString(c, "<bin>"))
		}
	}
	return out
}

// makeRecipe returns the recipe lines of a Makefile target.
func makeRecipe(t *testing.T, path, target string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, target+":"):
			in = true
		case in && strings.HasPrefix(line, "\t"):
			out = append(out, strings.TrimPrefix(strings.TrimSpace(line), "@"))
		case in && strings.TrimSpace(line) == "":
		case in:
			return out
		}
	}
	if !in {
		t.Fatalf("%s has no target %s", path, target)
	}
	return out
}

func TestDockerfileBuildsLikeMakefile(t *testing.T) {
	makeBuilds := goBuilds(makeRecipe(t, filepath.Join(root, "Makefile"), "build"))
	if len(makeBuilds) == 0 {
		t.Fatal("the Makefile's build target runs no go build")
	}
	build := dockerfileStages(t)["build"]
	if build == nil {
		t.Fatal("the Dockerfile has no build stage")
	}
	var cmds []string
	binDir := ""
	for _, in := range build.Body {
		switch in.Cmd {
		case "RUN":
			cmds = append(cmds, shellCommands(in.Args)...)
		case "ARG":
			if v, ok := strings.CutPrefix(in.Args, "BIN="); ok {
				binDir = v
			}
		}
	}
	dockerBuilds := goBuilds(cmds)
	if !slices.Equal(dockerBuilds, makeBuilds) {
		t.Errorf("the Dockerfile's go builds differ from `make build`:\nDockerfile: %q\nMakefile:   %q", dockerBuilds, makeBuilds)
	}
	if binDir == "" {
		t.Fatal("the build stage sets no ARG BIN")
	}
	// The images copy what the build stage built.
	for target, bin := range map[string]string{"worker": "worker", "api": "docket-api"} {
		st := dockerfileStages(t)[target]
		if st == nil {
			t.Errorf("no %s target", target)
			continue
		}
		copied, entry := false, ""
		for _, in := range st.Body {
			if in.Cmd == "COPY" && strings.Contains(in.Args, "--from=build") && strings.Contains(in.Args, binDir+"/"+bin) {
				copied = true
			}
			if in.Cmd == "ENTRYPOINT" {
				entry = in.Args
			}
		}
		if !copied {
			t.Errorf("%s: does not copy %s/%s from the build stage", target, binDir, bin)
		}
		if entry != `["/usr/local/bin/`+bin+`"]` {
			t.Errorf("%s: ENTRYPOINT %s", target, entry)
		}
	}
}

// aptPackages lists what a stage and the stages it is built on install.
func aptPackages(stages map[string]*stage, name string) []string {
	var pkgs []string
	for st := stages[name]; st != nil; st = stages[st.From] {
		for _, in := range st.Body {
			if in.Cmd != "RUN" {
				continue
			}
			for _, c := range shellCommands(in.Args) {
				if rest, ok := strings.CutPrefix(c, "apt-get install"); ok {
					for _, w := range strings.Fields(rest) {
						if !strings.HasPrefix(w, "-") {
							pkgs = append(pkgs, w)
						}
					}
				}
			}
		}
	}
	return pkgs
}

func TestDockerfileRuntimeImages(t *testing.T) {
	stages := dockerfileStages(t)
	worker := aptPackages(stages, "worker")
	for _, p := range []string{"tesseract-ocr", "tesseract-ocr-eng", "poppler-utils", "ca-certificates", "curl"} {
		if !slices.Contains(worker, p) {
			t.Errorf("the worker image does not install %s (it installs %v)", p, worker)
		}
	}
	api := aptPackages(stages, "api")
	for _, p := range []string{"ca-certificates", "curl", "poppler-utils"} {
		if !slices.Contains(api, p) {
			t.Errorf("the api image does not install %s (it installs %v)", p, api)
		}
	}
	if slices.Contains(api, "tesseract-ocr") {
		t.Error("the api image carries tesseract, which only workers run")
	}
	// The worker's compose health check runs the temporal CLI.
	hasCLI := false
	for _, in := range stages["worker"].Body {
		hasCLI = hasCLI || (in.Cmd == "COPY" && strings.HasSuffix(in.Args, "/usr/local/bin/temporal"))
	}
	if !hasCLI {
		t.Error("the worker image has no temporal CLI for its health check")
	}
	for _, name := range []string{"worker", "api"} {
		user := ""
		for st := stages[name]; st != nil; st = stages[st.From] {
			for _, in := range st.Body {
				if in.Cmd == "USER" && user == "" {
					user = in.Args
				}
			}
		}
		if user == "" || user == "root" || user == "0" {
			t.Errorf("the %s image runs as %q, want an unprivileged user", name, user)
		}
	}
}

func TestDockerfileGoVersionMatchesGoMod(t *testing.T) {
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	var arg string
	for _, in := range parseDockerfile(t, filepath.Join(root, "Dockerfile")) {
		if v, ok := strings.CutPrefix(in.Args, "GO_VERSION="); ok && in.Cmd == "ARG" {
			arg = v
		}
	}
	// The golang images set GOTOOLCHAIN=local: an older Go refuses go.mod.
	if arg != string(m[1]) {
		t.Errorf("Dockerfile ARG GO_VERSION=%s, go.mod says go %s", arg, m[1])
	}
}

func TestDockerignore(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	// Host state and tools never reach the build context; the sources do.
	for _, want := range []string{".git", ".tools", ".data", "bin"} {
		if !slices.Contains(lines, want) {
			t.Errorf(".dockerignore does not exclude %s", want)
		}
	}
	for _, keep := range []string{"go.mod", "go.sum", "*.go", "worker", "api"} {
		if slices.Contains(lines, keep) {
			t.Errorf(".dockerignore excludes %s, which the build needs", keep)
		}
	}
}
