package vaultaire_test

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// No container runtime runs here, so the image is tested by its parts:
// the Dockerfile's own `go build` line is run as a script, the binary it
// makes is checked (static, version stamped, every flag the deploy files
// use exists), and the compose, Prometheus and Grafana files are parsed
// and cross-checked.

const (
	dockerfile  = "deploy/docker/Dockerfile"
	composeFile = "deploy/docker/compose.yaml"
)

var (
	dockerBinOnce sync.Once
	dockerBin     string
	dockerBinErr  error
)

// TestMain removes the binary dockerfileBuild made.
func TestMain(m *testing.M) {
	code := m.Run()
	if dockerBin != "" {
		os.RemoveAll(filepath.Dir(dockerBin))
	}
	os.Exit(code)
}

// dockerfileBuild runs the Dockerfile's `RUN ... go build` line, as the
// builder stage would, with test build args, into a temp dir; it returns
// the binary (built once per test run).
func dockerfileBuild(t *testing.T) string {
	t.Helper()
	dockerBinOnce.Do(func() {
		b, err := os.ReadFile(dockerfile)
		if err != nil {
			dockerBinErr = err
			return
		}
		var line string
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "RUN ") && strings.Contains(l, "go build") {
				line = strings.TrimPrefix(l, "RUN ")
			}
		}
		if line == "" {
			dockerBinErr = os.ErrNotExist
			return
		}
		dir, err := os.MkdirTemp("", "vaultaire-docker-")
		if err != nil {
			dockerBinErr = err
			return
		}
		dockerBin = filepath.Join(dir, "vaultaire")
		cmd := exec.Command("sh", "-c", strings.ReplaceAll(line, "/out/vaultaire", dockerBin))
		cmd.Env = append(os.Environ(), "VERSION=v9.8.7-test", "COMMIT=0123456789abcdef")
		if out, err := cmd.CombinedOutput(); err != nil {
			dockerBinErr = &buildError{line, err, out}
		}
	})
	if dockerBinErr != nil {
		t.Fatalf("the Dockerfile's build line: %v", dockerBinErr)
	}
	return dockerBin
}

type buildError struct {
	line string
	err  error
	out  []byte
}

func (e *buildError) Error() string { return e.line + ": " + e.err.Error() + "\n" + string(e.out) }

// serverFlags are the flags `vaultaire server -h` prints.
func serverFlags(t *testing.T, bin string) map[string]bool {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(bin, "server", "-h")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("server -h: %v\n%s", err, out.String())
	}
	flags := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s+-([a-z0-9-]+)`).FindAllStringSubmatch(out.String(), -1) {
		flags[m[1]] = true
	}
	if len(flags) < 20 || !flags["join"] || !flags["shutdown-timeout"] {
		t.Fatalf("server -h lists too few flags (%d):\n%s", len(flags), out.String())
	}
	return flags
}

// envNotFlags are the VAULTAIRE_ variables the server reads that are not
// flags (the root credentials).
var envNotFlags = map[string]bool{"VAULTAIRE_ROOT_ACCESS_KEY": true, "VAULTAIRE_ROOT_SECRET_KEY": true}

// checkEnvIsFlag fails on a VAULTAIRE_ variable that no flag reads.
func checkEnvIsFlag(t *testing.T, where, name string, flags map[string]bool) {
	t.Helper()
	if envNotFlags[name] {
		return
	}
	flag := strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(name, "VAULTAIRE_")), "_", "-")
	if !strings.HasPrefix(name, "VAULTAIRE_") || !flags[flag] {
		t.Errorf("%s: %s is not a server flag (--%s)", where, name, flag)
	}
}

// TestDockerfileBuild runs the image's build command and checks what it
// makes and how the image runs it.
func TestDockerfileBuild(t *testing.T) {
	bin := dockerfileBuild(t)
	// Static: no program interpreter and no shared libraries, so it runs
	// on any base image.
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("binary has a program interpreter: not static (CGO_ENABLED=0 missing?)")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("binary needs shared libraries %v", libs)
	}
	f.Close()
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "vaultaire v9.8.7-test") || !strings.Contains(string(out), "commit 0123456789abcdef") {
		t.Errorf("version of the Dockerfile's build: %v\n%s", err, out)
	}

	b, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	flags := serverFlags(t, bin)
	// The Makefile's release stamp, the same variables.
	mk, err := os.ReadFile("Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mk), "LDFLAGS ?= -X main.version=$(VERSION) -X main.commit=$(COMMIT)") ||
		!strings.Contains(df, `-ldflags "-X main.version=${VERSION} -X main.commit=${COMMIT}"`) {
		t.Error("the Dockerfile's -ldflags differ from the Makefile's LDFLAGS")
	}
	stages := regexp.MustCompile(`(?m)^FROM `).FindAllStringIndex(df, -1)
	if len(stages) < 2 {
		t.Errorf("want a multi-stage build, got %d FROM lines", len(stages))
	}
	final := df[stages[len(stages)-1][0]:]
	for _, want := range []string{
		`VOLUME ["/data"]`,
		`CMD ["/usr/local/bin/vaultaire", "health"]`,
		"COPY --from=build /out/vaultaire /usr/local/bin/vaultaire",
		"STOPSIGNAL SIGTERM",
	} {
		if !strings.Contains(final, want) {
			t.Errorf("final stage lacks %q", want)
		}
	}
	user := regexp.MustCompile(`(?m)^USER (\S+)`).FindStringSubmatch(final)
	if user == nil || user[1] == "root" || strings.HasPrefix(user[1], "0") {
		t.Errorf("final stage runs as %v, want a non-root USER", user)
	}
	// ENV settings are flags, and the ports they listen on are exposed.
	envs := map[string]string{}
	for _, m := range regexp.MustCompile(`(VAULTAIRE_[A-Z_]+)=(\S+)`).FindAllStringSubmatch(final, -1) {
		envs[m[1]] = m[2]
		checkEnvIsFlag(t, "Dockerfile ENV", m[1], flags)
	}
	if envs["VAULTAIRE_DATA"] != "/data" {
		t.Errorf("VAULTAIRE_DATA = %q, want the /data volume", envs["VAULTAIRE_DATA"])
	}
	expose := regexp.MustCompile(`(?m)^EXPOSE (.*)$`).FindStringSubmatch(final)
	if expose == nil {
		t.Fatal("no EXPOSE")
	}
	for _, e := range []string{"VAULTAIRE_ADDRESS", "VAULTAIRE_ADMIN_ADDRESS", "VAULTAIRE_CONSOLE_ADDRESS"} {
		_, port, _ := strings.Cut(envs[e], ":")
		if port == "" || !slices.Contains(strings.Fields(expose[1]), port) {
			t.Errorf("%s=%s: port not in EXPOSE %s", e, envs[e], expose[1])
		}
	}
	// The rest of the defaults: 9002 (RPC) and 9003 (gossip, also UDP).
	for _, p := range []string{"9002", "9003", "9003/udp"} {
		if !slices.Contains(strings.Fields(expose[1]), p) {
			t.Errorf("EXPOSE lacks %s", p)
		}
	}
	// The health check probes what the server listens on: with the image's
	// environment, `vaultaire health` reads VAULTAIRE_ADMIN_ADDRESS.
	if out, err := exec.Command(bin, "health", "-h").CombinedOutput(); err != nil || !strings.Contains(string(out), "VAULTAIRE_ADMIN_ADDRESS") {
		t.Errorf("health -h: %v\n%s", err, out)
	}
	// The build context: .dockerignore keeps .git out (the builder has no
	// git; the version comes in as a build arg) but not the sources.
	ign, err := os.ReadFile(".dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(string(ign))
	if !slices.Contains(lines, ".git") || slices.Contains(lines, "third_party") || slices.Contains(lines, "cmd") {
		t.Errorf(".dockerignore: %q", lines)
	}
}

type composeService struct {
	Image           string            `yaml:"image"`
	Build           map[string]string `yaml:"build"`
	Environment     map[string]string `yaml:"environment"`
	Ports           []string          `yaml:"ports"`
	Volumes         []string          `yaml:"volumes"`
	StopGracePeriod string            `yaml:"stop_grace_period"`
	StopSignal      string            `yaml:"stop_signal"`
	DependsOn       []string          `yaml:"depends_on"`
}

// TestComposeFile checks the 3-node compose file against the binary and
// the Prometheus and Grafana files it mounts.
func TestComposeFile(t *testing.T) {
	bin := dockerfileBuild(t)
	flags := serverFlags(t, bin)
	b, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Services map[string]composeService `yaml:"services"`
		Volumes  map[string]any            `yaml:"volumes"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	var nodes []string
	for name, s := range doc.Services {
		if s.Image == "vaultaire:dev" {
			nodes = append(nodes, name)
		}
	}
	slices.Sort(nodes)
	if len(nodes) != 3 {
		t.Fatalf("vaultaire services %v, want 3", nodes)
	}
	var bootstrap []string
	for _, name := range nodes {
		s := doc.Services[name]
		where := "compose " + name
		if s.Build["dockerfile"] != "deploy/docker/Dockerfile" || filepath.Clean(filepath.Join("deploy/docker", s.Build["context"])) != "." {
			t.Errorf("%s: build %v, want the repository root and deploy/docker/Dockerfile", where, s.Build)
		}
		for k := range s.Environment {
			checkEnvIsFlag(t, where, k, flags)
		}
		env := s.Environment
		for _, secret := range []string{"VAULTAIRE_CLUSTER_SECRET", "VAULTAIRE_ROOT_ACCESS_KEY", "VAULTAIRE_ROOT_SECRET_KEY", "VAULTAIRE_ADMIN_TOKEN"} {
			// From the operator's environment, never written in the file.
			if !strings.HasPrefix(env[secret], "${"+secret+":?") {
				t.Errorf("%s: %s = %q, want ${%s:?...} (required, from the environment)", where, secret, env[secret], secret)
			}
		}
		if env["VAULTAIRE_RPC_ADVERTISE"] != name+":9002" || !strings.HasSuffix(env["VAULTAIRE_RPC_ADDRESS"], ":9002") {
			t.Errorf("%s: RPC %s advertised as %s, want %s:9002", where, env["VAULTAIRE_RPC_ADDRESS"], env["VAULTAIRE_RPC_ADVERTISE"], name)
		}
		if !strings.HasSuffix(env["VAULTAIRE_GOSSIP_ADDRESS"], ":9003") || !strings.HasSuffix(env["VAULTAIRE_ADMIN_ADDRESS"], ":9001") {
			t.Errorf("%s: gossip %s, admin %s: want ports 9003, 9001", where, env["VAULTAIRE_GOSSIP_ADDRESS"], env["VAULTAIRE_ADMIN_ADDRESS"])
		}
		// A non-loopback admin listener in clear must be consented to, or
		// the server refuses to start.
		if !strings.HasPrefix(env["VAULTAIRE_ADMIN_ADDRESS"], "127.") && env["VAULTAIRE_ADMIN_INSECURE"] != "true" && env["VAULTAIRE_ADMIN_TLS_CERT"] == "" {
			t.Errorf("%s: admin on %s without TLS or VAULTAIRE_ADMIN_INSECURE", where, env["VAULTAIRE_ADMIN_ADDRESS"])
		}
		for _, p := range s.Ports {
			if strings.HasSuffix(p, ":9001") {
				t.Errorf("%s: publishes the clear admin port (%s)", where, p)
			}
		}
		if join, ok := env["VAULTAIRE_JOIN"]; !ok {
			bootstrap = append(bootstrap, name)
		} else if host, port, _ := strings.Cut(join, ":"); !slices.Contains(nodes, host) || port != "9003" {
			t.Errorf("%s: joins %q, want another node's service name and gossip port 9003", where, join)
		}
		grace, err1 := time.ParseDuration(s.StopGracePeriod)
		drain, err2 := time.ParseDuration(env["VAULTAIRE_SHUTDOWN_TIMEOUT"])
		if err1 != nil || err2 != nil || grace <= drain || s.StopSignal != "SIGTERM" {
			t.Errorf("%s: stop_grace_period %q (signal %s) must outlast the drain %q", where, s.StopGracePeriod, s.StopSignal, env["VAULTAIRE_SHUTDOWN_TIMEOUT"])
		}
		if len(s.Volumes) != 1 || s.Volumes[0] != name+":/data" {
			t.Errorf("%s: volumes %v, want its own named volume on /data", where, s.Volumes)
		} else if _, ok := doc.Volumes[name]; !ok {
			t.Errorf("%s: volume %s not declared", where, name)
		}
	}
	if len(bootstrap) != 1 {
		t.Errorf("nodes bootstrapping (no VAULTAIRE_JOIN): %v, want exactly one", bootstrap)
	}

	// Prometheus scrapes every node's admin port.
	pb, err := os.ReadFile("deploy/docker/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	var prom struct {
		Scrape []struct {
			Job     string `yaml:"job_name"`
			Path    string `yaml:"metrics_path"`
			Targets []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(pb, &prom); err != nil {
		t.Fatalf("prometheus.yml: %v", err)
	}
	var targets []string
	for _, sc := range prom.Scrape {
		if sc.Path != "/metrics" {
			t.Errorf("job %s scrapes %q, want /metrics", sc.Job, sc.Path)
		}
		for _, st := range sc.Targets {
			targets = append(targets, st.Targets...)
		}
	}
	slices.Sort(targets)
	want := []string{}
	for _, n := range nodes {
		want = append(want, n+":9001")
	}
	if !slices.Equal(targets, want) {
		t.Errorf("Prometheus targets %v, want %v", targets, want)
	}
	if p := doc.Services["prometheus"]; !slices.Contains(p.Volumes, "./prometheus.yml:/etc/prometheus/prometheus.yml:ro") {
		t.Errorf("prometheus volumes %v do not mount prometheus.yml", p.Volumes)
	}

	// Grafana: the provisioned data source is the Prometheus service and
	// the dashboard provider's folder holds the repository's dashboard.
	g := doc.Services["grafana"]
	mounts := map[string]string{}
	for _, v := range g.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 {
			mounts[parts[1]] = parts[0]
		}
	}
	var ds struct {
		Datasources []struct {
			Type, URL string
		} `yaml:"datasources"`
	}
	readYAML(t, filepath.Join("deploy/docker", mounts["/etc/grafana/provisioning/datasources"], "prometheus.yaml"), &ds)
	if len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" || ds.Datasources[0].URL != "http://prometheus:9090" {
		t.Errorf("Grafana data sources %+v, want the prometheus service", ds.Datasources)
	}
	var prov struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, filepath.Join("deploy/docker", mounts["/etc/grafana/provisioning/dashboards"], "vaultaire.yaml"), &prov)
	if len(prov.Providers) != 1 {
		t.Fatalf("dashboard providers %+v", prov.Providers)
	}
	dash := ""
	for target, src := range mounts {
		if filepath.Dir(target) == prov.Providers[0].Options.Path {
			dash = filepath.Join("deploy/docker", src)
		}
	}
	db, err := os.ReadFile(dash)
	if err != nil || !bytes.Contains(db, []byte(`"uid": "vaultaire-overview"`)) {
		t.Errorf("dashboard %q mounted into %s: %v", dash, prov.Providers[0].Options.Path, err)
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
