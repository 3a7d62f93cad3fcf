// Package deploytest checks Docket's deployment files: docker-compose.yml (and
// its Temporal Cloud overrides), loaded with the Compose specification's Go
// loader as `docker compose` loads them, and the Dockerfile. No Docker
// engine is needed.
package deploytest

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"

	"github.com/docket-dev/docket/config"
	"github.com/docket-dev/docket/internal/workers"
	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/steps"
)

// root is the repository root, relative to this package.
const root = "../.."

// loadCompose loads docker-compose.yml plus any overrides, with env as the
// only environment (not the test's), as `docker compose config` would.
func loadCompose(t *testing.T, env map[string]string, overrides ...string) *types.Project {
	t.Helper()
	files := []string{filepath.Join(root, "docker-compose.yml")}
	for _, o := range overrides {
		files = append(files, filepath.Join(root, o))
	}
	var kv []string
	for k, v := range env {
		kv = append(kv, k+"="+v)
	}
	opts, err := cli.NewProjectOptions(files,
		cli.WithWorkingDirectory(root),
		cli.WithEnv(kv),
		cli.WithConsistency(true),
	)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := opts.LoadProject(ctx)
	if err != nil {
		t.Fatalf("load %v: %v", files, err)
	}
	return p
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, err := p.GetService(name)
	if err != nil {
		t.Fatalf("service %s: %v", name, err)
	}
	return s
}

func env(s types.ServiceConfig, key string) string {
	if v := s.Environment[key]; v != nil {
		return *v
	}
	return ""
}

var (
	longRunning = []string{"postgresql", "temporal", "temporal-ui", "minio", "api", "worker", "worker-ocr", "worker-llm", "prometheus", "grafana"}
	oneShots    = []string{"temporal-schema", "temporal-setup", "minio-setup", "api-keys"}
	docketSvcs  = []string{"api", "worker", "worker-ocr", "worker-llm"}
	// workerQueues is each worker service's role and the task queue it polls.
	workerQueues = map[string]struct{ role, queue string }{
		"worker":     {workers.RoleWorkflows, job.TaskQueue},
		"worker-ocr": {workers.RoleOCR, steps.QueueOCR.On(job.TaskQueue)},
		"worker-llm": {workers.RoleLLM, steps.QueueLLM.On(job.TaskQueue)},
	}
)

func TestComposeServices(t *testing.T) {
	p := loadCompose(t, nil)
	if p.Name != "docket" {
		t.Errorf("project name %q, want docket", p.Name)
	}
	want := append(append([]string{}, longRunning...), oneShots...)
	got := p.ServiceNames()
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("services %v, want %v", got, want)
	}
	for _, name := range longRunning {
		if r := service(t, p, name).Restart; r != types.RestartPolicyUnlessStopped {
			t.Errorf("%s: restart %q, want %q", name, r, types.RestartPolicyUnlessStopped)
		}
	}
	for _, name := range oneShots {
		if r := service(t, p, name).Restart; r != types.RestartPolicyOnFailure {
			t.Errorf("%s: restart %q, want %q (a one-shot that must not rerun after success)", name, r, types.RestartPolicyOnFailure)
		}
	}
	for _, v := range []string{"pgdata", "blobs", "minio", "keys"} {
		if _, ok := p.Volumes[v]; !ok {
			t.Errorf("no named volume %s: its data would not survive `docker compose down`", v)
		}
	}
	pg := service(t, p, "postgresql")
	if len(pg.Volumes) != 1 || pg.Volumes[0].Source != "pgdata" || pg.Volumes[0].Target != "/var/lib/postgresql/data" {
		t.Errorf("postgresql volumes %+v, want pgdata on /var/lib/postgresql/data", pg.Volumes)
	}
}

func TestComposeDependsOn(t *testing.T) {
	p := loadCompose(t, nil)
	const (
		healthy   = types.ServiceConditionHealthy
		completed = types.ServiceConditionCompletedSuccessfully
	)
	want := map[string]map[string]string{
		"postgresql":      {},
		"temporal-schema": {"postgresql": healthy},
		"temporal":        {"postgresql": healthy, "temporal-schema": completed},
		"temporal-setup":  {"temporal": healthy},
		"temporal-ui":     {"temporal": healthy},
		"minio":           {},
		"minio-setup":     {"minio": healthy},
		"api":             {"temporal": healthy, "temporal-setup": completed, "minio-setup": completed, "api-keys": completed},
		"api-keys":        {},
		"worker":          {"temporal": healthy, "temporal-setup": completed, "minio-setup": completed, "api-keys": completed},
		"worker-ocr":      {"temporal": healthy, "temporal-setup": completed, "minio-setup": completed, "api-keys": completed},
		"worker-llm":      {"temporal": healthy, "temporal-setup": completed, "minio-setup": completed, "api-keys": completed},
		"prometheus":      {"temporal": healthy},
		"grafana":         {"prometheus": healthy},
	}
	for name, deps := range want {
		s := service(t, p, name)
		got := map[string]string{}
		for dep, d := range s.DependsOn {
			got[dep] = d.Condition
			if !d.Required {
				t.Errorf("%s: dependency on %s is not required", name, dep)
			}
		}
		if !reflect.DeepEqual(got, deps) {
			t.Errorf("%s depends_on %v, want %v", name, got, deps)
		}
	}
}

func TestComposeHealthChecks(t *testing.T) {
	p := loadCompose(t, nil)
	for _, name := range longRunning {
		s := service(t, p, name)
		hc := s.HealthCheck
		if hc == nil || hc.Disable || len(hc.Test) < 2 {
			t.Errorf("%s: no health check", name)
			continue
		}
		if hc.Test[0] != "CMD" && hc.Test[0] != "CMD-SHELL" {
			t.Errorf("%s: health check test %v", name, hc.Test)
		}
		if hc.Interval == nil || hc.Timeout == nil || hc.Retries == nil || *hc.Retries == 0 {
			t.Errorf("%s: health check needs interval, timeout and retries: %+v", name, hc)
		}
		if hc.Timeout != nil && hc.Interval != nil && *hc.Timeout > *hc.Interval {
			t.Errorf("%s: health check timeout %s longer than its interval %s", name, hc.Timeout, hc.Interval)
		}
	}
	checks := map[string]string{
		"postgresql":  "pg_isready",
		"temporal":    "temporal operator cluster health --address temporal:7233",
		"temporal-ui": "http://127.0.0.1:8080/",
		"api":         "curl -fsS http://127.0.0.1:8080/readyz",
		"minio":       "mc ready local",
	}
	for name, want := range checks {
		got := strings.Join(service(t, p, name).HealthCheck.Test[1:], " ")
		if !strings.Contains(got, want) {
			t.Errorf("%s: health check %q does not contain %q", name, got, want)
		}
	}
	// A worker is healthy once Temporal lists it, by the hostname in its
	// identity, among the pollers of its role's task queue.
	for name, wq := range workerQueues {
		got := strings.Join(service(t, p, name).HealthCheck.Test[1:], " ")
		queue := strings.Replace(wq.queue, job.TaskQueue, "${DOCKET_TASK_QUEUE}", 1)
		want := `temporal task-queue describe --task-queue "` + queue + `" -o json | grep -q "@$(hostname)\""`
		if got != want {
			t.Errorf("%s: health check\n%s\nwant\n%s", name, got, want)
		}
	}
}

func TestComposeWorkerRoles(t *testing.T) {
	p := loadCompose(t, nil)
	for name, wq := range workerQueues {
		s := service(t, p, name)
		if got := env(s, "DOCKET_WORKER_ROLES"); got != wq.role {
			t.Errorf("%s: DOCKET_WORKER_ROLES %q, want %q", name, got, wq.role)
		}
	}
	// Two workers of the workflows role, so that one can die.
	if d := service(t, p, "worker").Deploy; d == nil || d.Replicas == nil || *d.Replicas != 2 {
		t.Errorf("worker: deploy %+v, want 2 replicas", d)
	}
	// Every Docket process sees the same blob store.
	for _, name := range docketSvcs {
		s := service(t, p, name)
		dir := env(s, "DOCKET_DATA_DIR")
		shared := false
		for _, v := range s.Volumes {
			shared = shared || (v.Type == types.VolumeTypeVolume && v.Source == "blobs" && v.Target == dir)
		}
		if dir == "" || !shared {
			t.Errorf("%s: DOCKET_DATA_DIR %q is not on the shared volume blobs: %+v", name, dir, s.Volumes)
		}
	}
}

// Uploads and document outputs go to MinIO's bucket through the S3
// driver, with MinIO's own credentials, and the bucket is created first.
func TestComposeBlobStoreIsMinIO(t *testing.T) {
	p := loadCompose(t, nil)
	minio := service(t, p, "minio")
	for _, name := range docketSvcs {
		s := service(t, p, name)
		u := env(s, "DOCKET_BLOB_URL")
		if !strings.HasPrefix(u, "s3://docket?") || !strings.Contains(u, "endpoint=http://minio:9000") || !strings.Contains(u, "use_path_style=true") {
			t.Errorf("%s: DOCKET_BLOB_URL %q is not the MinIO bucket", name, u)
		}
		if env(s, "AWS_ACCESS_KEY_ID") != env(minio, "MINIO_ROOT_USER") || env(s, "AWS_SECRET_ACCESS_KEY") != env(minio, "MINIO_ROOT_PASSWORD") {
			t.Errorf("%s: S3 credentials do not match MinIO's", name)
		}
	}
	setup := strings.Join(service(t, p, "minio-setup").Command, " ")
	if !strings.Contains(setup, "mc mb --ignore-existing local/docket") {
		t.Errorf("minio-setup does not create the bucket: %q", setup)
	}
}

func TestComposePorts(t *testing.T) {
	p := loadCompose(t, nil)
	type port struct {
		hostIP, published string
		target            uint32
	}
	want := map[string][]port{
		"temporal":    {{"127.0.0.1", "7233", 7233}},
		"temporal-ui": {{"127.0.0.1", "8233", 8080}},
		"api":         {{"127.0.0.1", "8080", 8080}, {"127.0.0.1", "8081", 8081}},
		"minio":       {{"127.0.0.1", "9001", 9001}},
		"prometheus":  {{"127.0.0.1", "9090", 9090}},
		"grafana":     {{"127.0.0.1", "3000", 3000}},
	}
	for _, s := range p.Services {
		var got []port
		for _, pc := range s.Ports {
			got = append(got, port{pc.HostIP, pc.Published, pc.Target})
		}
		if !reflect.DeepEqual(got, want[s.Name]) {
			t.Errorf("%s publishes %v, want %v", s.Name, got, want[s.Name])
		}
	}
	// The API listens where its port mapping points.
	api := service(t, p, "api")
	if addr := env(api, "DOCKET_HTTP_ADDR"); addr != ":8080" {
		t.Errorf("api DOCKET_HTTP_ADDR %q, want :8080", addr)
	}
	// DOCKET_BIND opens them beyond loopback.
	p = loadCompose(t, map[string]string{"DOCKET_BIND": "0.0.0.0"})
	if ip := service(t, p, "api").Ports[0].HostIP; ip != "0.0.0.0" {
		t.Errorf("with DOCKET_BIND=0.0.0.0 the api binds %q", ip)
	}
	// The codec-only listener decrypts without keys: it stays on the
	// host's loopback whatever DOCKET_BIND says, and it is what the Web
	// UI decodes through.
	codec := service(t, p, "api").Ports[1]
	if codec.HostIP != "127.0.0.1" || env(api, "DOCKET_CODEC_ADDR") != ":"+codec.Published {
		t.Errorf("codec port %+v, DOCKET_CODEC_ADDR %q", codec, env(api, "DOCKET_CODEC_ADDR"))
	}
	if got := env(service(t, p, "temporal-ui"), "TEMPORAL_CODEC_ENDPOINT"); got != "http://127.0.0.1:"+codec.Published+"/codec" {
		t.Errorf("the Web UI's codec endpoint is %q", got)
	}
}

// docketVars are the DOCKET_* variables config.Config reads.
func docketVars(t *testing.T) map[string]bool {
	vars := map[string]bool{}
	ct := reflect.TypeFor[config.Config]()
	for i := range ct.NumField() {
		if name, _, _ := strings.Cut(ct.Field(i).Tag.Get("env"), ","); name != "" {
			vars[name] = true
		}
	}
	if !vars["DOCKET_HTTP_ADDR"] || !vars["DOCKET_TASK_QUEUE"] {
		t.Fatalf("config.Config's env tags not understood: %v", vars)
	}
	return vars
}

// temporalVars are the TEMPORAL_* variables the SDK's envconfig reads.
var temporalVars = map[string]bool{
	"TEMPORAL_ADDRESS": true, "TEMPORAL_NAMESPACE": true, "TEMPORAL_API_KEY": true,
	"TEMPORAL_TLS": true, "TEMPORAL_TLS_CLIENT_CERT_PATH": true, "TEMPORAL_TLS_CLIENT_KEY_PATH": true,
	"TEMPORAL_TLS_SERVER_CA_CERT_PATH": true, "TEMPORAL_TLS_SERVER_NAME": true,
	"TEMPORAL_PROFILE": true, "TEMPORAL_CONFIG_FILE": true,
}

func TestComposeEnvironment(t *testing.T) {
	p := loadCompose(t, nil)
	known := docketVars(t)
	for _, name := range docketSvcs {
		s := service(t, p, name)
		if got := env(s, "TEMPORAL_ADDRESS"); got != "temporal:7233" {
			t.Errorf("%s: TEMPORAL_ADDRESS %q, want temporal:7233", name, got)
		}
		if got := env(s, "TEMPORAL_NAMESPACE"); got != "default" {
			t.Errorf("%s: TEMPORAL_NAMESPACE %q, want default", name, got)
		}
		if got := env(s, "DOCKET_TASK_QUEUE"); got != job.TaskQueue {
			t.Errorf("%s: DOCKET_TASK_QUEUE %q, want %q", name, got, job.TaskQueue)
		}
		for k, v := range s.Environment {
			switch {
			case strings.HasPrefix(k, "DOCKET_") && !known[k]:
				t.Errorf("%s: %s is not a setting of config.Config", name, k)
			case strings.HasPrefix(k, "TEMPORAL_") && !temporalVars[k]:
				t.Errorf("%s: %s is not a variable the SDK's envconfig reads", name, k)
			case strings.HasPrefix(k, "TEMPORAL_TLS") && (v == nil || *v == ""):
				// An empty TLS variable still turns TLS on in envconfig.
				t.Errorf("%s: %s is set but empty", name, k)
			}
		}
	}
	// A worker gets longer to stop than it gives running activities.
	for name := range workerQueues {
		s := service(t, p, name)
		stop, err := time.ParseDuration(env(s, "DOCKET_WORKER_STOP_TIMEOUT"))
		if err != nil {
			t.Fatalf("%s: DOCKET_WORKER_STOP_TIMEOUT: %v", name, err)
		}
		if s.StopGracePeriod == nil || time.Duration(*s.StopGracePeriod) <= stop {
			t.Errorf("%s: stop_grace_period %v must exceed DOCKET_WORKER_STOP_TIMEOUT %s", name, s.StopGracePeriod, stop)
		}
	}
	// Variables of the file take their documented defaults, and the
	// environment overrides them.
	p = loadCompose(t, map[string]string{"DOCKET_LOG_LEVEL": "debug", "POSTGRES_PASSWORD": "s3cret"})
	if got := env(service(t, p, "api"), "DOCKET_LOG_LEVEL"); got != "debug" {
		t.Errorf("DOCKET_LOG_LEVEL from the environment: got %q", got)
	}
	for svc, key := range map[string]string{"postgresql": "POSTGRES_PASSWORD", "temporal": "POSTGRES_PWD", "temporal-schema": "SQL_PASSWORD"} {
		if got := env(service(t, p, svc), key); got != "s3cret" {
			t.Errorf("%s: %s %q, want the POSTGRES_PASSWORD given", svc, key, got)
		}
	}
}

// makeVar reads a variable's value from mk/cluster.mk.
func makeVar(t *testing.T, name string) string {
	b, err := os.ReadFile(filepath.Join(root, "mk", "cluster.mk"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^` + name + `\s*:=\s*(\S+)`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("%s not set in mk/cluster.mk", name)
	}
	return string(m[1])
}

func TestComposeTemporalSetup(t *testing.T) {
	p := loadCompose(t, nil)
	// The images run the release `make cluster` builds, which the pinned
	// CLI embeds.
	server := strings.TrimPrefix(makeVar(t, "TEMPORAL_SERVER_VERSION"), "v")
	ui := strings.TrimPrefix(makeVar(t, "TEMPORAL_UI_SERVER_VERSION"), "v")
	images := map[string]string{
		"temporal":        "temporalio/server:" + server,
		"temporal-ui":     "temporalio/ui:" + ui,
		"temporal-schema": "temporalio/admin-tools:" + server + "-",
		"temporal-setup":  "temporalio/admin-tools:" + server + "-",
		"postgresql":      "postgres:",
	}
	for name, prefix := range images {
		if img := service(t, p, name).Image; !strings.HasPrefix(img, prefix) {
			t.Errorf("%s: image %q, want %s…", name, img, prefix)
		}
	}
	tmp := service(t, p, "temporal")
	for k, v := range map[string]string{"DB": "postgres12", "POSTGRES_SEEDS": "postgresql", "DB_PORT": "5432"} {
		if got := env(tmp, k); got != v {
			t.Errorf("temporal: %s %q, want %q", k, got, v)
		}
	}
	// The dynamic config is the cluster's, mounted where DYNAMIC_CONFIG_FILE_PATH
	// points, and it turns fairness on.
	dc := env(tmp, "DYNAMIC_CONFIG_FILE_PATH")
	mounted := false
	for _, v := range tmp.Volumes {
		if v.Target == "/etc/temporal/"+dc && filepath.Base(v.Source) == "dynamicconfig.yaml" && v.ReadOnly {
			mounted = true
			if want, _ := filepath.Abs(filepath.Join(root, clusterDynamicConfig)); v.Source != want {
				t.Errorf("temporal mounts %s, not %s", v.Source, clusterDynamicConfig)
			}
			checkFairness(t, v.Source)
		}
	}
	if !mounted {
		t.Errorf("temporal: no read-only dynamic config mounted at /etc/temporal/%s: %+v", dc, tmp.Volumes)
	}

	schema := strings.Join(append(service(t, p, "temporal-schema").Entrypoint, service(t, p, "temporal-schema").Command...), " ")
	for _, want := range []string{"temporal-sql-tool", "create-database", "setup-schema -v 0.0", "update-schema -d", "/etc/temporal/schema/postgresql/v12/", "temporal_visibility"} {
		if !strings.Contains(schema, want) {
			t.Errorf("temporal-schema does not run %q: %s", want, schema)
		}
	}
	setup := service(t, p, "temporal-setup")
	script := strings.Join(append(setup.Entrypoint, setup.Command...), " ")
	if !strings.Contains(script, "temporal operator namespace create") {
		t.Errorf("temporal-setup does not create the namespace: %s", script)
	}
	// Each of Docket's search attributes is created, as Keyword, unless it
	// exists (the one-shot runs on every `up`).
	words := strings.Join(strings.Fields(script), " ")
	for _, attr := range []string{job.StatusSearchAttribute, job.TenantSearchAttribute} {
		want := `temporal operator search-attribute list --namespace "$TEMPORAL_NAMESPACE" | grep -qw ` + attr +
			` || temporal operator search-attribute create --namespace "$TEMPORAL_NAMESPACE" --name ` + attr + ` --type Keyword`
		if !strings.Contains(words, want) {
			t.Errorf("temporal-setup does not create %s:\n%s\nwant\n%s", attr, script, want)
		}
	}
	if got := env(setup, "TEMPORAL_ADDRESS"); got != "temporal:7233" {
		t.Errorf("temporal-setup: TEMPORAL_ADDRESS %q", got)
	}
}

// clusterDynamicConfig is the dynamic config of `make cluster`, which the
// compose server mounts too.
const clusterDynamicConfig = "cluster/config/dynamicconfig.yaml"

// checkFairness fails t unless the dynamic config file at path turns
// task-queue fairness on for every namespace and task queue: one value,
// true, without constraints that would scope it to some of them.
func checkFairness(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The file's schema, as the server's file-based client reads it.
	var dc map[string][]struct {
		Value       any            `yaml:"value"`
		Constraints map[string]any `yaml:"constraints"`
	}
	if err := yaml.Unmarshal(b, &dc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	const key = "matching.enableFairness"
	vals, ok := dc[key]
	if !ok {
		t.Fatalf("%s does not set %s: tenants' tasks would be dispatched first in, first out", path, key)
	}
	if len(vals) != 1 || vals[0].Value != true || len(vals[0].Constraints) != 0 {
		t.Errorf("%s: %s is %+v, want one unconstrained value true", path, key, vals)
	}
}

// The native cluster's server reads the same file (cluster/config/temporal.yaml).
func TestClusterEnablesFairness(t *testing.T) {
	checkFairness(t, filepath.Join(root, clusterDynamicConfig))
	b, err := os.ReadFile(filepath.Join(root, "cluster", "config", "temporal.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "/config/dynamicconfig.yaml") {
		t.Errorf("cluster/config/temporal.yaml does not read the dynamic config file")
	}
}

func TestComposeBuildsDockerfileTargets(t *testing.T) {
	p := loadCompose(t, nil)
	stages := dockerfileStages(t)
	for name, target := range map[string]string{"api": "api", "worker": "worker", "worker-ocr": "worker", "worker-llm": "worker"} {
		s := service(t, p, name)
		if s.Build == nil || s.Build.Target != target {
			t.Errorf("%s: build %+v, want target %s", name, s.Build, target)
			continue
		}
		if _, ok := stages[target]; !ok {
			t.Errorf("%s: the Dockerfile has no stage %s", name, target)
		}
		if !strings.HasPrefix(s.Image, "docket-"+target+":") {
			t.Errorf("%s: image %q", name, s.Image)
		}
	}
}

func TestComposeTemporalCloud(t *testing.T) {
	cloud := map[string]string{
		"TEMPORAL_ADDRESS":   "docket.a1b2c.tmprl.cloud:7233",
		"TEMPORAL_NAMESPACE": "docket.a1b2c",
		"TEMPORAL_API_KEY":   "key-123",
	}
	p := loadCompose(t, cloud, "deploy/compose.cloud.yml")
	// Nothing sets up a Cloud namespace for Docket: the override's comment
	// says what to create there, and that fairness is a namespace setting.
	b, err := os.ReadFile(filepath.Join(root, "deploy", "compose.cloud.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, attr := range []string{job.StatusSearchAttribute, job.TenantSearchAttribute} {
		if want := "temporal operator search-attribute create --name " + attr + " --type Keyword"; !strings.Contains(string(b), want) {
			t.Errorf("deploy/compose.cloud.yml does not tell to run %q", want)
		}
	}
	if prose := strings.Join(strings.Fields(strings.ReplaceAll(string(b), "#", "")), " "); !strings.Contains(prose, "enable Fairness in the namespace's settings") {
		t.Errorf("deploy/compose.cloud.yml does not tell to enable Fairness in the namespace's settings")
	}
	for _, name := range docketSvcs {
		s := service(t, p, name)
		for k, v := range cloud {
			if got := env(s, k); got != v {
				t.Errorf("cloud: %s: %s %q, want %q", name, k, got, v)
			}
		}
		if len(s.DependsOn) != 0 {
			t.Errorf("cloud: %s still waits for %v", name, s.DependsOn)
		}
		if env(s, "DOCKET_TASK_QUEUE") != job.TaskQueue {
			t.Errorf("cloud: %s lost its DOCKET_* settings", name)
		}
	}

	mtls := map[string]string{
		"TEMPORAL_ADDRESS":   cloud["TEMPORAL_ADDRESS"],
		"TEMPORAL_NAMESPACE": cloud["TEMPORAL_NAMESPACE"],
		"TEMPORAL_CERTS_DIR": "/srv/certs",
	}
	p = loadCompose(t, mtls, "deploy/compose.cloud.yml", "deploy/compose.cloud-mtls.yml")
	for _, name := range docketSvcs {
		s := service(t, p, name)
		if env(s, "TEMPORAL_TLS_CLIENT_CERT_PATH") != "/etc/temporal-certs/client.pem" ||
			env(s, "TEMPORAL_TLS_CLIENT_KEY_PATH") != "/etc/temporal-certs/client.key" {
			t.Errorf("mtls: %s: TLS paths %q %q", name, env(s, "TEMPORAL_TLS_CLIENT_CERT_PATH"), env(s, "TEMPORAL_TLS_CLIENT_KEY_PATH"))
		}
		if env(s, "TEMPORAL_API_KEY") != "" {
			t.Errorf("mtls: %s: an API key appeared", name)
		}
		ok := false
		for _, v := range s.Volumes {
			ok = ok || (v.Source == "/srv/certs" && v.Target == "/etc/temporal-certs" && v.ReadOnly)
		}
		if !ok {
			t.Errorf("mtls: %s: certificates not mounted read-only: %+v", name, s.Volumes)
		}
	}
}

func TestComposeCloudNeedsAddress(t *testing.T) {
	files := []string{filepath.Join(root, "docker-compose.yml"), filepath.Join(root, "deploy/compose.cloud.yml")}
	opts, err := cli.NewProjectOptions(files, cli.WithWorkingDirectory(root), cli.WithEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := opts.LoadProject(context.Background()); err == nil || !strings.Contains(err.Error(), "TEMPORAL_ADDRESS") {
		t.Errorf("the cloud override without TEMPORAL_ADDRESS loaded (err %v); it must refuse", err)
	}
}
