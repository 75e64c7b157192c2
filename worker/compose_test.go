package main

// These tests hold docker-compose.yml and the Dockerfile to what the README
// promises about `docker compose up`. No Docker engine runs where the tests
// run, so they read both files the way Compose does (compose-go, the library
// behind `docker compose`) and check the wiring: which services exist, which
// ports reach the host, what the worker is told, and what waits for what.

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// composeDefaultServices run on a plain `docker compose up`;
// composeDemoService only with --profile demo.
var composeDefaultServices = []string{
	"temporal-db", "temporal-schema", "temporal", "temporal-namespace", "temporal-ui",
	"billing-db", "sandbox", "worker",
}

const composeDemoService = "demo"

// composeHostPorts are the documented host ports of each service, host
// port to container port. Every other service publishes nothing.
var composeHostPorts = map[string]map[string]uint32{
	"temporal":    {"7233": 7233},
	"temporal-ui": {"8233": 8080},
	"billing-db":  {"5434": 5432},
	"sandbox":     {"8080": 8080},
	"worker":      {"9090": 9090},
}

// composeBuiltServices run one of the repository's programs, built by its
// Dockerfile.
var composeBuiltServices = []string{"sandbox", "worker", composeDemoService}

// composeSearchAttributes are the custom search attributes Recur's
// workflows set.
var composeSearchAttributes = []string{"RecurDataSource", "RecurCustomer", "RecurOutcome"}

// composeRepoRoot is the repository's root, where docker-compose.yml and the
// Dockerfile are.
func composeRepoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// loadCompose reads docker-compose.yml as `docker compose` would, with the
// project name "recur" and only env as the environment (nil: none), so that
// the developer's shell cannot change what is checked.
func loadCompose(t *testing.T, env map[string]string) *types.Project {
	t.Helper()
	root := composeRepoRoot(t)
	if env == nil {
		env = map[string]string{}
	}
	details := types.ConfigDetails{
		WorkingDir:  root,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(root, "docker-compose.yml")}},
		Environment: env,
	}
	project, err := loader.LoadWithContext(context.Background(), details, func(o *loader.Options) {
		o.SetProjectName("recur", true)
	})
	if err != nil {
		t.Fatalf("docker-compose.yml does not load the way Compose reads it: %v", err)
	}
	return project
}

// composeService returns a service, whether a profile enables it or not.
func composeService(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, ok := p.AllServices()[name]
	if !ok {
		t.Fatalf("docker-compose.yml has no %q service.", name)
	}
	return s
}

// composeEnv returns a service's environment variable; ok is false when the
// variable is unset (or passed through from a host that does not set it).
func composeEnv(s types.ServiceConfig, name string) (value string, ok bool) {
	v, found := s.Environment[name]
	if !found || v == nil {
		return "", false
	}
	return *v, true
}

func TestComposeRunsTheWholeStack(t *testing.T) {
	p := loadCompose(t, nil)
	for _, name := range composeDefaultServices {
		if _, ok := p.Services[name]; !ok {
			if _, disabled := p.DisabledServices[name]; disabled {
				t.Errorf("The %q service only starts with a profile; `docker compose up` must start it.", name)
			} else {
				t.Errorf("docker-compose.yml has no %q service; `docker compose up` must run it.", name)
			}
		}
	}
	demo, ok := p.DisabledServices[composeDemoService]
	switch {
	case ok && !slices.Equal(demo.Profiles, []string{"demo"}):
		t.Errorf("The demo service has profiles %q; it must be in the \"demo\" profile alone, so that `--profile demo` starts it.", demo.Profiles)
	case !ok && p.Services[composeDemoService].Name != "":
		t.Errorf("The demo service runs on every `docker compose up`; it must wait for --profile demo, since it rewrites the billing data.")
	case !ok:
		t.Errorf("docker-compose.yml has no %q service to load the demo data.", composeDemoService)
	}
	// A one-shot job that restarts never "completes successfully", and
	// whatever waits for it waits for ever.
	for _, name := range []string{"temporal-schema", "temporal-namespace", composeDemoService} {
		if r := composeService(t, p, name).Restart; r == types.RestartPolicyAlways || r == types.RestartPolicyUnlessStopped {
			t.Errorf("The one-shot %q service has restart: %s; it must run once and exit.", name, r)
		}
	}
}

func TestComposeImagesArePinned(t *testing.T) {
	p := loadCompose(t, nil)
	tags := map[string]string{}
	for name, s := range p.AllServices() {
		if s.Build != nil && s.Image == "" {
			continue // built from this repository, checked by TestComposeBuildsRecurFromTheRepositoryDockerfile
		}
		tag, err := composeImageTag(s.Image)
		if err != nil {
			t.Errorf("The %q service's image %q is not pinned: %v.", name, s.Image, err)
			continue
		}
		tags[name] = tag
	}
	// temporal-sql-tool writes the schema of its own release: it must be the
	// server's, or the server starts on a schema it does not expect.
	server := tags["temporal"]
	for _, job := range []string{"temporal-schema", "temporal-namespace"} {
		if admin := tags[job]; server != "" && admin != server && !strings.HasPrefix(admin, server+"-") {
			t.Errorf("The %q job runs admin-tools %q but the server is %q; they must be the same Temporal release.", job, admin, server)
		}
	}
}

// composeImageTag returns an image reference's tag (or digest), and an error when
// it has none or floats with "latest".
func composeImageTag(ref string) (string, error) {
	if ref == "" {
		return "", fmt.Errorf("the service has neither an image nor a build")
	}
	if _, digest, ok := strings.Cut(ref, "@"); ok {
		return digest, nil
	}
	name := ref[strings.LastIndex(ref, "/")+1:]
	_, tag, ok := strings.Cut(name, ":")
	switch {
	case !ok || tag == "":
		return "", fmt.Errorf("it has no tag, so it means whatever \"latest\" is on the day it is pulled")
	case tag == "latest":
		return "", fmt.Errorf("\"latest\" changes under the file")
	}
	return tag, nil
}

func TestComposeBuildsRecurFromTheRepositoryDockerfile(t *testing.T) {
	p := loadCompose(t, nil)
	root := composeRepoRoot(t)
	for _, name := range composeBuiltServices {
		s := composeService(t, p, name)
		if s.Build == nil {
			t.Errorf("The %q service pulls %q; it must be built from the repository's Dockerfile, so that it runs this code.", name, s.Image)
			continue
		}
		if filepath.Clean(s.Build.Context) != root {
			t.Errorf("The %q service builds in %q; its build context must be the repository's root %q.", name, s.Build.Context, root)
		}
		if df := cmp.Or(s.Build.Dockerfile, "Dockerfile"); df != "Dockerfile" {
			t.Errorf("The %q service builds with %q; it must use the repository's Dockerfile.", name, df)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "Dockerfile")); err != nil {
		t.Errorf("The repository has no Dockerfile for the services to build: %v.", err)
	}

	// The image's entrypoint is /worker; the others choose their program.
	if w := composeService(t, p, "worker"); len(w.Entrypoint) > 0 && w.Entrypoint[0] != "/worker" {
		t.Errorf("The worker service runs %q; it must run /worker.", []string(w.Entrypoint))
	}
	sandbox := composeService(t, p, "sandbox")
	args := append(slices.Clone([]string(sandbox.Entrypoint)), sandbox.Command...)
	if len(args) < 2 || args[0] != "/sandbox" || args[1] != "serve" {
		t.Errorf("The sandbox service runs %q; it must run `/sandbox serve`.", args)
	}
	// 127.0.0.1 inside a container is unreachable from the worker and the
	// host, whatever the port mapping says.
	if addr := composeFlagValue(args, "--addr"); addr != "0.0.0.0:8080" {
		t.Errorf("The sandbox listens on %q; it must listen on 0.0.0.0:8080 to be reachable from the worker and the host.", addr)
	}
	db := composeFlagValue(args, "--database")
	if !strings.HasPrefix(db, "sqlite:/data/") {
		t.Errorf("The sandbox's database is %q; it must be a SQLite file under /data, the volume that keeps it across restarts.", db)
	}
	if !slices.ContainsFunc(sandbox.Volumes, func(v types.ServiceVolumeConfig) bool { return v.Target == "/data" && v.Type == types.VolumeTypeVolume }) {
		t.Errorf("The sandbox has no named volume at /data; its API key, imports and data would vanish with the container.")
	}
	demo := composeService(t, p, composeDemoService)
	args = append(slices.Clone([]string(demo.Entrypoint)), demo.Command...)
	if len(args) < 2 || args[0] != "/starter" || args[1] != "demo" || composeFlagValue(args, "--customers") == "" {
		t.Errorf("The demo service runs %q; it must run `/starter demo --customers N`.", args)
	}
}

// composeFlagValue returns the value that follows flag in args ("--flag value" or
// "--flag=value"), or "".
func composeFlagValue(args []string, flag string) string {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v
		}
		if a == flag && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

func TestComposeHostPortsAreTheDocumentedOnesAndLeave5432Free(t *testing.T) {
	p := loadCompose(t, nil)
	owner := map[string]string{} // host port → service
	for name, s := range p.AllServices() {
		got := map[string]uint32{}
		for _, port := range s.Ports {
			if port.Published == "" {
				continue // a container port without a host port
			}
			got[port.Published] = port.Target
			if port.Published == "5432" {
				t.Errorf("The %q service takes host port 5432, where a local PostgreSQL usually runs; it must use another.", name)
			}
			if other, taken := owner[port.Published]; taken {
				t.Errorf("The %q and %q services both publish host port %s; only one of them can start.", other, name, port.Published)
			}
			owner[port.Published] = name
		}
		want := composeHostPorts[name]
		if want == nil {
			want = map[string]uint32{}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("The %q service publishes host:container ports %v; the documented ones are %v.", name, got, want)
		}
	}
}

func TestComposeWiresTheWorkerToTheStack(t *testing.T) {
	p := loadCompose(t, nil)
	worker := composeService(t, p, "worker")
	sandbox := composeService(t, p, "sandbox")
	billing := composeService(t, p, "billing-db")

	if v, _ := composeEnv(worker, "TEMPORAL_ADDRESS"); v != "temporal:7233" {
		t.Errorf("The worker's TEMPORAL_ADDRESS is %q; it must be temporal:7233, or it starts a dev server of its own instead of using the cluster.", v)
	}
	if v, _ := composeEnv(worker, "CHARTMOGUL_URL"); v != "http://sandbox:8080" {
		t.Errorf("The worker's CHARTMOGUL_URL is %q; it must be http://sandbox:8080, the sandbox service.", v)
	}
	key, _ := composeEnv(worker, "CHARTMOGUL_API_KEY")
	sandboxKey, _ := composeEnv(sandbox, "RECUR_API_KEY")
	switch {
	case key == "":
		t.Errorf("The worker has no CHARTMOGUL_API_KEY; without one it starts a local ChartMogul of its own instead of using the sandbox.")
	case key != sandboxKey:
		t.Errorf("The worker's CHARTMOGUL_API_KEY %q is not the key the sandbox installs (RECUR_API_KEY %q); every request would be refused.", key, sandboxKey)
	case len(key) < 16:
		t.Errorf("The development API key %q is shorter than 16 characters; the sandbox refuses to install it.", key)
	}
	if v, ok := composeEnv(worker, "CHARTMOGUL_DATA_SOURCE"); ok {
		t.Errorf("The worker's CHARTMOGUL_DATA_SOURCE is set (%q); against the sandbox it must stay unset so that the worker creates its data source.", v)
	}

	raw, _ := composeEnv(worker, "BILLING_DATABASE_URL")
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "postgres" {
		t.Errorf("The worker's BILLING_DATABASE_URL %q is not a postgres:// URL.", raw)
	} else {
		user, _ := composeEnv(billing, "POSTGRES_USER")
		password, _ := composeEnv(billing, "POSTGRES_PASSWORD")
		database, _ := composeEnv(billing, "POSTGRES_DB")
		gotPassword, _ := u.User.Password()
		if u.Host != "billing-db:5432" {
			t.Errorf("The worker's BILLING_DATABASE_URL points at %q; it must point at billing-db:5432, the billing-db service inside the network.", u.Host)
		}
		if u.User.Username() != cmp.Or(user, "postgres") || gotPassword != password {
			t.Errorf("The worker's BILLING_DATABASE_URL logs in as %q with another password than billing-db's; it must use billing-db's POSTGRES_USER and POSTGRES_PASSWORD.", u.User.Username())
		}
		if strings.TrimPrefix(u.Path, "/") != cmp.Or(database, cmp.Or(user, "postgres")) {
			t.Errorf("The worker's BILLING_DATABASE_URL names database %q, which billing-db does not create (POSTGRES_DB %q).", u.Path, database)
		}
	}

	addr, _ := composeEnv(worker, "RECUR_METRICS_ADDR")
	if !strings.HasPrefix(addr, "0.0.0.0:") {
		t.Errorf("The worker's RECUR_METRICS_ADDR is %q; it must listen on 0.0.0.0 so that Prometheus can scrape it from outside the container.", addr)
	} else if port := strings.TrimPrefix(addr, "0.0.0.0:"); !slices.ContainsFunc(worker.Ports, func(p types.ServicePortConfig) bool { return fmt.Sprint(p.Target) == port }) {
		t.Errorf("The worker serves metrics on port %s but does not publish it.", port)
	}
}

func TestComposePasswordsSetInTheEnvironmentReachEveryServiceThatUsesThem(t *testing.T) {
	p := loadCompose(t, map[string]string{
		"TEMPORAL_DB_PASSWORD": "temporal-secret",
		"BILLING_DB_PASSWORD":  "billing-secret",
		"SANDBOX_API_KEY":      "a-real-deployment-key",
	})
	for _, c := range []struct{ service, variable, want string }{
		{"temporal-db", "POSTGRES_PASSWORD", "temporal-secret"},
		{"temporal-schema", "SQL_PASSWORD", "temporal-secret"},
		{"temporal", "POSTGRES_PWD", "temporal-secret"},
		{"billing-db", "POSTGRES_PASSWORD", "billing-secret"},
		{"sandbox", "RECUR_API_KEY", "a-real-deployment-key"},
		{"worker", "CHARTMOGUL_API_KEY", "a-real-deployment-key"},
	} {
		if got, _ := composeEnv(composeService(t, p, c.service), c.variable); got != c.want {
			t.Errorf("With its variable set, the %q service's %s is %q; it must be %q, or the services disagree on the secret.", c.service, c.variable, got, c.want)
		}
	}
	for _, name := range []string{"worker", composeDemoService} {
		if got, _ := composeEnv(composeService(t, p, name), "BILLING_DATABASE_URL"); !strings.Contains(got, ":billing-secret@billing-db:") {
			t.Errorf("With BILLING_DB_PASSWORD set, the %q service's BILLING_DATABASE_URL is %q; it must carry that password.", name, got)
		}
	}
}

func TestComposeStartsTheWorkerOnlyOnceItsDependenciesAreReady(t *testing.T) {
	p := loadCompose(t, nil)
	for _, c := range []struct{ service, dependency, condition, why string }{
		{"worker", "temporal-namespace", types.ServiceConditionCompletedSuccessfully, "its workflows need the namespace and the search attributes"},
		{"worker", "billing-db", types.ServiceConditionHealthy, "it reads the billing database"},
		{"worker", "sandbox", types.ServiceConditionStarted, "it imports into the sandbox"},
		{"temporal-namespace", "temporal", types.ServiceConditionHealthy, "it talks to the server"},
		{"temporal", "temporal-schema", types.ServiceConditionCompletedSuccessfully, "the server needs its schema"},
		{"temporal-schema", "temporal-db", types.ServiceConditionHealthy, "it writes the schema into that database"},
		{"temporal-ui", "temporal", types.ServiceConditionHealthy, "the UI talks to the server"},
		{composeDemoService, "billing-db", types.ServiceConditionHealthy, "it writes into the billing database"},
	} {
		dep, ok := composeService(t, p, c.service).DependsOn[c.dependency]
		if !ok {
			t.Errorf("The %q service does not wait for %q; it must, because %s.", c.service, c.dependency, c.why)
		} else if dep.Condition != c.condition {
			t.Errorf("The %q service waits for %q to be %s; it must wait for %s, because %s.", c.service, c.dependency, dep.Condition, c.condition, c.why)
		}
	}
	// Waiting for a service with no healthcheck to be healthy never ends.
	for name, s := range p.AllServices() {
		for dependency, dep := range s.DependsOn {
			if dep.Condition != types.ServiceConditionHealthy {
				continue
			}
			hc := p.AllServices()[dependency].HealthCheck
			if hc == nil || hc.Disable || len(hc.Test) == 0 {
				t.Errorf("The %q service waits for %q to be healthy, but %q has no healthcheck.", name, dependency, dependency)
			}
		}
	}
}

func TestComposeSetsUpTemporalAndRegistersRecursSearchAttributes(t *testing.T) {
	p := loadCompose(t, nil)
	schema := composeShellText(composeService(t, p, "temporal-schema"))
	for _, want := range []string{"temporal-sql-tool", "create", "setup-schema", "update-schema", "--db temporal ", "--db temporal_visibility", "postgres12"} {
		if !strings.Contains(schema, want) {
			t.Errorf("The temporal-schema job's command has no %q; it must create and migrate both the temporal and temporal_visibility databases.", want)
		}
	}
	namespace := composeShellText(composeService(t, p, "temporal-namespace"))
	if !strings.Contains(namespace, "namespace create") {
		t.Errorf("The temporal-namespace job never runs `temporal operator namespace create`; the plain server image creates no namespace.")
	}
	for _, name := range composeSearchAttributes {
		create := regexp.MustCompile(`search-attribute create [^\n]*--name ` + name + ` --type Keyword\b`)
		if !create.MatchString(namespace) {
			t.Errorf("The temporal-namespace job does not register %s as a Keyword search attribute (`temporal operator search-attribute create … --name %s --type Keyword`); workflows that set it would fail.", name, name)
		}
	}
}

// composeShellText is a service's entrypoint and command as one text.
func composeShellText(s types.ServiceConfig) string {
	return strings.Join(append(slices.Clone([]string(s.Entrypoint)), s.Command...), " ")
}

func TestDockerfileBuildsTheThreeProgramsIntoAnImageThatRunsTheWorker(t *testing.T) {
	root := composeRepoRoot(t)
	text, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatalf("The repository has no readable Dockerfile: %v.", err)
	}
	stages := parseDockerfile(string(text))
	if len(stages) < 2 {
		t.Fatalf("The Dockerfile has %d stage(s); it must build in one stage and ship the programs alone in a final one.", len(stages))
	}
	for _, s := range stages {
		if _, err := composeImageTag(s.base); err != nil && !slices.ContainsFunc(stages, func(o dockerStage) bool { return o.name == s.base }) {
			t.Errorf("The Dockerfile's stage FROM %q is not pinned: %v.", s.base, err)
		}
	}

	var run strings.Builder
	for _, s := range stages[:len(stages)-1] {
		for _, in := range s.instructions {
			if in.keyword == "RUN" || in.keyword == "ENV" {
				run.WriteString(in.args + "\n")
			}
		}
	}
	for _, program := range []string{"worker", "starter", "sandbox"} {
		if !regexp.MustCompile(`go build[^\n&;|]*\s\./` + program + `(\s|$)`).MatchString(run.String()) {
			t.Errorf("The Dockerfile never runs `go build … ./%s`; the image must hold all three programs.", program)
		}
	}
	if !strings.Contains(run.String(), "CGO_ENABLED=0") {
		t.Errorf("The Dockerfile does not build with CGO_ENABLED=0; the final image has no C library for a cgo binary to load.")
	}

	final := stages[len(stages)-1]
	var copied strings.Builder
	var entrypoint string
	for _, in := range final.instructions {
		switch in.keyword {
		case "COPY":
			copied.WriteString(in.args + "\n")
		case "ENTRYPOINT":
			entrypoint = in.args
		}
	}
	var argv []string
	if err := json.Unmarshal([]byte(entrypoint), &argv); err != nil || len(argv) == 0 || argv[0] != "/worker" {
		t.Errorf("The Dockerfile's final stage has ENTRYPOINT %s; it must be [\"/worker\"] in exec form, so that the image runs the worker and signals reach it.", cmp.Or(entrypoint, "(none)"))
	}
	for _, program := range []string{"worker", "starter", "sandbox"} {
		if !regexp.MustCompile(`/` + program + `\b`).MatchString(copied.String()) {
			t.Errorf("The Dockerfile's final stage never copies the %s program; compose runs /%s from this image.", program, program)
		}
	}

	ignore, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Errorf("The repository has no .dockerignore: the whole .git history and local databases would be sent to every build.")
	} else {
		for _, want := range []string{".git", "*.db"} {
			if !strings.Contains(string(ignore), want) {
				t.Errorf(".dockerignore does not leave out %s; it would be sent to every build.", want)
			}
		}
	}
}

// dockerStage is one FROM … section of a Dockerfile.
type dockerStage struct {
	base, name   string
	instructions []dockerInstruction
}

type dockerInstruction struct{ keyword, args string }

// parseDockerfile splits a Dockerfile into stages of instructions, joining
// continuation lines and dropping comments: enough of the format to read
// what this repository's Dockerfile does.
func parseDockerfile(text string) []dockerStage {
	var stages []dockerStage
	var logical strings.Builder
	flush := func() {
		line := strings.TrimSpace(logical.String())
		logical.Reset()
		if line == "" {
			return
		}
		keyword, args, _ := strings.Cut(line, " ")
		keyword = strings.ToUpper(keyword)
		args = strings.TrimSpace(args)
		if keyword == "FROM" {
			fields := strings.Fields(args)
			s := dockerStage{}
			for i := 0; i < len(fields); i++ {
				switch {
				case strings.HasPrefix(fields[i], "--"):
				case s.base == "":
					s.base = fields[i]
				case strings.EqualFold(fields[i], "AS") && i+1 < len(fields):
					s.name = fields[i+1]
					i++
				}
			}
			stages = append(stages, s)
			return
		}
		if len(stages) > 0 {
			last := &stages[len(stages)-1]
			last.instructions = append(last.instructions, dockerInstruction{keyword, args})
		}
	}
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		if body, ok := strings.CutSuffix(trimmed, "\\"); ok {
			logical.WriteString(body + " ")
			continue
		}
		logical.WriteString(trimmed)
		flush()
	}
	flush()
	return stages
}
