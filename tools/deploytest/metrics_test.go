package deploytest

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// promConfig is the part of deploy/prometheus/prometheus.yml these tests read.
type promConfig struct {
	ScrapeConfigs []struct {
		JobName    string `yaml:"job_name"`
		DNSConfigs []struct {
			Names []string `yaml:"names"`
			Type  string   `yaml:"type"`
			Port  int      `yaml:"port"`
		} `yaml:"dns_sd_configs"`
		StaticConfigs []struct {
			Targets []string `yaml:"targets"`
		} `yaml:"static_configs"`
	} `yaml:"scrape_configs"`
}

// TestComposePrometheus: compose's Prometheus config is valid for
// Prometheus itself (promtool check config), every Docket service serves
// metrics on the port it scrapes, without publishing it (the listener
// takes no key), and the Temporal server on the target it scrapes.
func TestComposePrometheus(t *testing.T) {
	p := loadCompose(t, nil)
	prom := service(t, p, "prometheus")
	var cfgFile string
	for _, v := range prom.Volumes {
		if v.Target == "/etc/prometheus/prometheus.yml" {
			cfgFile = v.Source
			if !v.ReadOnly {
				t.Errorf("prometheus mounts its config writable")
			}
		}
	}
	if filepath.Base(filepath.Dir(cfgFile)) != "prometheus" || filepath.Base(cfgFile) != "prometheus.yml" {
		t.Fatalf("prometheus mounts %q as its config, want deploy/prometheus/prometheus.yml", cfgFile)
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is missing: make deps installs Debian's prometheus package")
	}
	if out, err := exec.Command(promtool, "check", "config", cfgFile).CombinedOutput(); err != nil {
		t.Fatalf("promtool check config %s: %v\n%s", cfgFile, err, out)
	}
	b, err := os.ReadFile(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	var cfg promConfig
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	scraped := map[string]int{} // service name -> port
	var static []string
	for _, sc := range cfg.ScrapeConfigs {
		for _, d := range sc.DNSConfigs {
			if d.Type != "A" {
				t.Errorf("%s: dns_sd type %q, want A (compose's DNS answers a service with its replicas' addresses)", sc.JobName, d.Type)
			}
			for _, n := range d.Names {
				scraped[n] = d.Port
			}
		}
		for _, s := range sc.StaticConfigs {
			static = append(static, s.Targets...)
		}
	}
	for _, name := range docketSvcs {
		s := service(t, p, name)
		addr := env(s, "DOCKET_METRICS_ADDR")
		port, ok := scraped[name]
		if !ok {
			t.Errorf("Prometheus does not scrape %s", name)
			continue
		}
		if !strings.HasPrefix(addr, ":") || addr[1:] != strconv.Itoa(port) {
			t.Errorf("%s: DOCKET_METRICS_ADDR %q, but Prometheus scrapes port %d", name, addr, port)
		}
		for _, pc := range s.Ports {
			if pc.Target == uint32(port) {
				t.Errorf("%s publishes its metrics port %d, which serves without a key", name, port)
			}
		}
	}
	endpoint := env(service(t, p, "temporal"), "PROMETHEUS_ENDPOINT")
	_, port, _ := strings.Cut(endpoint, ":")
	if !slices.Contains(static, "temporal:"+port) {
		t.Errorf("temporal's PROMETHEUS_ENDPOINT is %q, Prometheus scrapes %v", endpoint, static)
	}
	if _, ok := p.Volumes["prometheus"]; !ok {
		t.Error("no named volume prometheus: the series would not survive `docker compose down`")
	}
}

// TestComposeGrafana: Grafana provisions the Prometheus data source the
// dashboard names, and loads the dashboard kept in the repository from
// where the provider looks.
func TestComposeGrafana(t *testing.T) {
	p := loadCompose(t, nil)
	g := service(t, p, "grafana")
	mounts := map[string]string{}
	for _, v := range g.Volumes {
		mounts[v.Target] = v.Source
	}
	prov, dashboards := mounts["/etc/grafana/provisioning"], mounts["/var/lib/grafana/dashboards"]
	if prov == "" || dashboards == "" {
		t.Fatalf("grafana mounts %v, want the provisioning and dashboards folders of deploy/grafana", mounts)
	}
	var ds struct {
		Datasources []struct {
			UID  string `yaml:"uid"`
			Type string `yaml:"type"`
			URL  string `yaml:"url"`
		} `yaml:"datasources"`
	}
	readYAML(t, filepath.Join(prov, "datasources", "prometheus.yml"), &ds)
	if len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" || ds.Datasources[0].URL != "http://prometheus:9090" {
		t.Fatalf("data sources %+v, want compose's prometheus", ds.Datasources)
	}
	var provider struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, filepath.Join(prov, "dashboards", "docket.yml"), &provider)
	if len(provider.Providers) != 1 || provider.Providers[0].Options.Path != "/var/lib/grafana/dashboards" {
		t.Fatalf("dashboard providers %+v, want one reading /var/lib/grafana/dashboards", provider.Providers)
	}
	b, err := os.ReadFile(filepath.Join(dashboards, "docket.json"))
	if err != nil {
		t.Fatal(err)
	}
	// Every panel and target names the provisioned data source.
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			Type       string `json:"type"`
			Title      string `json:"title"`
			Datasource struct {
				UID string `json:"uid"`
			} `json:"datasource"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	if dash.UID == "" || len(dash.Panels) == 0 {
		t.Fatal("the dashboard has no uid or no panels")
	}
	for _, pn := range dash.Panels {
		if pn.Type != "row" && pn.Datasource.UID != ds.Datasources[0].UID {
			t.Errorf("panel %q uses data source %q, want %q", pn.Title, pn.Datasource.UID, ds.Datasources[0].UID)
		}
	}
	if env(g, "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH") != "/var/lib/grafana/dashboards/docket.json" {
		t.Error("Grafana's home dashboard is not Docket's")
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
