package deploy

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	composetypes "github.com/compose-spec/compose-go/v2/types"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// root is the repository root; go test runs in deploy/.
const root = ".."

func readFile(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// secretName matches environment variable names whose values are secrets.
var secretName = regexp.MustCompile(`(?i)PASSWORD|SECRET|TOKEN|KEY|DATABASE_URL|REPLICATION_URL`)

// ---------------------------------------------------------------------------
// docker-compose.prod.yml

// casinoServices are the compose services that run the casino image.
var casinoServices = map[string]bool{"backend": true, "frontend-admin": true, "backup": true, "drill": true, "pitr-stream": true}

// loadCompose loads docker-compose.prod.yml with compose-go, the loader
// docker compose itself uses, from a scratch folder holding the file and a
// .env copied from .env.example (as an operator would). It validates against
// the compose specification's JSON schema and checks consistency. Services
// of profiles not named are in DisabledServices, as docker compose leaves
// them out; "*" enables every profile.
func loadCompose(t *testing.T, profiles ...string) *composetypes.Project {
	t.Helper()
	return loadComposeEnv(t, readFile(t, ".env.example"), profiles...)
}

// loadComposeEnv is loadCompose with dotenv as .env. Without profiles, the
// active ones are COMPOSE_PROFILES from it, as docker compose reads them.
func loadComposeEnv(t *testing.T, dotenv string, profiles ...string) *composetypes.Project {
	t.Helper()
	dir := t.TempDir()
	for dst, text := range map[string]string{"docker-compose.prod.yml": readFile(t, "docker-compose.prod.yml"), ".env": dotenv} {
		if err := os.WriteFile(filepath.Join(dir, dst), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	opts, err := cli.NewProjectOptions(
		[]string{filepath.Join(dir, "docker-compose.prod.yml")},
		cli.WithWorkingDirectory(dir),
		// As docker compose does: find the default .env, then read it
		// for ${…} interpolation and COMPOSE_PROFILES.
		cli.WithEnvFiles(),
		cli.WithDotEnv,
		cli.WithDefaultProfiles(profiles...),
		cli.WithConsistency(true),
	)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := opts.LoadProject(ctx)
	if err != nil {
		t.Fatalf("docker-compose.prod.yml does not load: %v", err)
	}
	return p
}

func TestComposeProdLoadsAndValidates(t *testing.T) {
	// Every profile: the checks below hold for pitr-stream too.
	p := loadCompose(t, "*")
	for _, name := range []string{"backend", "frontend-admin", "postgres"} {
		if _, ok := p.Services[name]; !ok {
			t.Errorf("service %q missing; have %v", name, p.ServiceNames())
		}
	}
	if t.Failed() {
		return
	}

	// Named volumes for the data and for backups/.
	for _, v := range []string{"pgdata", "backups"} {
		if _, ok := p.Volumes[v]; !ok {
			t.Errorf("named volume %q missing", v)
		}
	}
	mounts := func(svc, vol, target string) {
		for _, m := range p.Services[svc].Volumes {
			if m.Type == composetypes.VolumeTypeVolume && m.Source == vol && m.Target == target {
				return
			}
		}
		t.Errorf("service %s: want volume %s mounted at %s, got %+v", svc, vol, target, p.Services[svc].Volumes)
	}
	mounts("postgres", "pgdata", "/var/lib/postgresql/data")
	// /app is the image's WORKDIR, so the checklist's backups/… paths work.
	mounts("backend", "backups", "/app/backups")

	// Healthchecks on /api/ready; depends_on waits for healthy.
	for _, svc := range []string{"backend", "frontend-admin"} {
		hc := p.Services[svc].HealthCheck
		if hc == nil || !strings.Contains(strings.Join(hc.Test, " "), "/api/ready") {
			t.Errorf("service %s: want a healthcheck on /api/ready, got %+v", svc, hc)
		}
	}
	if hc := p.Services["postgres"].HealthCheck; hc == nil || !strings.Contains(strings.Join(hc.Test, " "), "pg_isready") {
		t.Errorf("service postgres: want a pg_isready healthcheck, got %+v", hc)
	}
	healthyDep := func(svc, dep string) {
		d, ok := p.Services[svc].DependsOn[dep]
		if !ok || d.Condition != composetypes.ServiceConditionHealthy {
			t.Errorf("service %s: want depends_on %s with condition service_healthy, got %+v", svc, dep, p.Services[svc].DependsOn)
		}
	}
	healthyDep("backend", "postgres")
	healthyDep("frontend-admin", "backend")

	for name, s := range p.Services {
		if s.Restart != "always" && s.Restart != "unless-stopped" {
			t.Errorf("service %s: restart %q, want always or unless-stopped", name, s.Restart)
		}
		if name != "postgres" && (s.User == "" || s.User == "0" || strings.HasPrefix(s.User, "root")) {
			t.Errorf("service %s: runs as %q, want non-root", name, s.User)
		}
		if !casinoServices[name] {
			continue
		}
		if name == "frontend-admin" {
			// The console holds no credential: no env_file, no DATABASE_URL.
			if len(s.EnvFiles) != 0 || s.Environment["DATABASE_URL"] != nil {
				t.Errorf("service frontend-admin gets secrets (env_file %v); it must not hold the database credential", s.EnvFiles)
			}
		} else if len(s.EnvFiles) == 0 {
			t.Errorf("service %s: no env_file; secrets must come from one", name)
		}
		if len(s.Command) == 0 || s.Command[0] != "casino" && s.Command[0] != "sh" {
			t.Errorf("service %s: command %v does not run the image's casino binary", name, s.Command)
		}
	}
	if len(p.Services["postgres"].EnvFiles) == 0 {
		t.Error("service postgres: no env_file for POSTGRES_PASSWORD")
	}

	// <URL> is the proxy: /api/ to the backend, the rest to frontend-admin,
	// so the checklist's API checks and UI smoke share one URL.
	proxy, ok := p.Services["proxy"]
	if !ok {
		t.Fatal("no proxy service: <URL> needs one entry point for /api/ and the UI")
	}
	if len(proxy.Ports) != 1 || proxy.Ports[0].Target != 8080 || proxy.Ports[0].Published != "8080" {
		t.Errorf("proxy ports %+v, want <URL> on 8080", proxy.Ports)
	}
	healthyDep("proxy", "backend")
	healthyDep("proxy", "frontend-admin")
	cfg, ok := p.Configs["caddyfile"]
	if !ok {
		t.Fatal("no caddyfile config")
	}
	route := regexp.MustCompile(`handle /api/\*\s*\{\s*reverse_proxy backend:8080\s*\}[\s\S]*handle\s*\{\s*reverse_proxy frontend-admin:8080\s*\}`)
	if !route.MatchString(cfg.Content) {
		t.Errorf("the proxy does not route /api/* to backend:8080 and the rest to frontend-admin:8080:\n%s", cfg.Content)
	}

	// Scenario A's rollback knob: CASINO_IMAGE in .env picks every casino
	// service's image.
	img := regexp.MustCompile(`(?m)^CASINO_IMAGE=(\S+)`).FindStringSubmatch(readFile(t, ".env.example"))
	if img == nil {
		t.Fatal(".env.example does not set CASINO_IMAGE")
	}
	for name, s := range p.Services {
		if casinoServices[name] && s.Image != img[1] {
			t.Errorf("service %s: image %q, want CASINO_IMAGE from .env (%q)", name, s.Image, img[1])
		}
	}

	// A service that writes to or reads from the bucket (--remote) must sit
	// on a network that leaves the host: an internal-only network cannot
	// reach S3, and the off-host copy would silently never be made.
	for svc, s := range p.Services {
		if !strings.Contains(strings.Join(s.Command, " "), "--remote") {
			continue
		}
		egress := false
		for net := range s.Networks {
			if n, ok := p.Networks[net]; ok && !n.Internal {
				egress = true
			}
		}
		if !egress {
			t.Errorf("service %s (runs with --remote) is only on internal networks %v: it cannot reach the bucket", svc, s.Networks)
		}
	}

	// frontend-admin is not on postgres's network: only the backend side is.
	for net := range p.Services["postgres"].Networks {
		if _, ok := p.Services["frontend-admin"].Networks[net]; ok {
			t.Errorf("frontend-admin shares network %q with postgres", net)
		}
		if _, ok := p.Services["backend"].Networks[net]; !ok {
			t.Errorf("backend is not on postgres's network %q", net)
		}
	}
}

// TestComposeProdNoInlineSecrets reads the raw file: no service sets a
// secret-looking variable in environment:, and no secret value appears.
func TestComposeProdNoInlineSecrets(t *testing.T) {
	var raw struct {
		Services map[string]struct {
			Environment any `json:"environment"`
		} `json:"services"`
	}
	if err := yaml.Unmarshal([]byte(readFile(t, "docker-compose.prod.yml")), &raw); err != nil {
		t.Fatal(err)
	}
	for name, s := range raw.Services {
		var keys []string
		switch env := s.Environment.(type) {
		case map[string]any:
			for k := range env {
				keys = append(keys, k)
			}
		case []any:
			for _, e := range env {
				k, _, _ := strings.Cut(fmt.Sprint(e), "=")
				keys = append(keys, k)
			}
		}
		for _, k := range keys {
			if secretName.MatchString(k) {
				t.Errorf("service %s sets %s inline; secrets belong in the env_file", name, k)
			}
		}
	}
	// .env.example holds placeholders only.
	for _, line := range strings.Split(readFile(t, ".env.example"), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(strings.TrimSpace(line), "#") || !secretName.MatchString(k) || k == "DATABASE_URL" {
			continue
		}
		if strings.HasSuffix(k, "_URL") {
			if u, err := url.Parse(v); err != nil || u.User == nil || u.User.String() != u.User.Username()+":change-me" {
				t.Errorf(".env.example: %s's password must be the placeholder change-me", k)
			}
			continue
		}
		if v != "change-me" {
			t.Errorf(".env.example: %s=%q, want the placeholder change-me", k, v)
		}
	}
}

// composeLine matches a documented docker compose command against the prod file.
var composeLine = regexp.MustCompile(`docker compose -f docker-compose\.prod\.yml (\S+)((?: [^\s` + "`" + `]+)*)`)

// TestComposeDocCommandsNameRealServices checks every "docker compose -f
// docker-compose.prod.yml …" line of docs/ops and deploy/: the services they
// stop, start, restart, exec into or run exist, and an exec'd or run casino
// command is the image's binary.
func TestComposeDocCommandsNameRealServices(t *testing.T) {
	p := loadCompose(t, "*")
	files, _ := filepath.Glob(filepath.Join(root, "docs", "ops", "*.md"))
	files = append(files, filepath.Join(root, "deploy", "README.md"))
	seen := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range composeLine.FindAllStringSubmatch(string(b), -1) {
			seen++
			sub, args := m[1], strings.Fields(m[2])
			// The command ends at a shell operator or redirection.
			for i, a := range args {
				if strings.ContainsAny(a[:1], "|&;>") || strings.HasPrefix(a, "2>") {
					args = args[:i]
					break
				}
			}
			var services []string
			switch sub {
			case "stop", "start", "restart", "up", "ps", "logs", "pull":
				for _, a := range args {
					if !strings.HasPrefix(a, "-") {
						services = append(services, a)
					}
				}
			case "exec", "run":
				// flags, then SERVICE, then the command
				i := 0
				for i < len(args) && strings.HasPrefix(args[i], "-") {
					i++
				}
				if i >= len(args) {
					t.Errorf("%s: %q names no service", f, m[0])
					continue
				}
				services = append(services, args[i])
				// postgres is the official image: its own tools, and the
				// replication-role script the compose file mounts into it.
				if args[i] == "postgres" {
					if i+1 >= len(args) || !slices.Contains([]string{"psql", "bash"}, args[i+1]) {
						t.Errorf("%s: %q: in postgres run psql or bash", f, m[0])
					}
					break // the switch: the service is checked below
				}
				if i+1 < len(args) && args[i+1] != "casino" && args[i+1] != "…" && !strings.HasPrefix(args[i+1], "./scripts/") {
					t.Errorf("%s: %q runs %q, want casino or ./scripts/…", f, m[0], args[i+1])
				}
				if i+1 < len(args) && strings.HasPrefix(args[i+1], "./scripts/") {
					if _, err := os.Stat(filepath.Join(root, args[i+1])); err != nil {
						t.Logf("%s: %q: %s not in the repository yet (issue 5)", f, m[0], args[i+1])
					}
				}
			default:
				t.Errorf("%s: %q: unexpected compose subcommand %q", f, m[0], sub)
			}
			for _, s := range services {
				if _, ok := p.Services[s]; !ok {
					t.Errorf("%s: %q names service %q, not in docker-compose.prod.yml", f, m[0], s)
				}
			}
		}
	}
	if seen < 4 {
		t.Errorf("found only %d docker compose lines in the docs; the checklist has more", seen)
	}
}

// ---------------------------------------------------------------------------
// Kubernetes

// kustomize builds deploy/k8s. kubectl is required: without it the test
// skips, except under CI=true, where it fails.
func kustomize(t *testing.T) []byte {
	t.Helper()
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("kubectl is required in CI to build deploy/k8s")
		}
		t.Skip("kubectl not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kubectl, "kustomize", filepath.Join(root, "deploy", "k8s"))
	// kustomize needs no cluster; keep kubectl away from any real one.
	cmd.Env = append(os.Environ(), "KUBECONFIG="+filepath.Join(t.TempDir(), "none"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl kustomize deploy/k8s: %v\n%s", err, stderr.String())
	}
	return out
}

// objects is the built base, strictly decoded into the Kubernetes API types.
type objects struct {
	deployments  map[string]*appsv1.Deployment
	services     map[string]*corev1.Service
	pdbs         map[string]*policyv1.PodDisruptionBudget
	jobs         map[string]*batchv1.Job
	cronjobs     map[string]*batchv1.CronJob
	pvcs         map[string]*corev1.PersistentVolumeClaim
	netpols      map[string]*networkingv1.NetworkPolicy
	ingresses    map[string]*networkingv1.Ingress
	configmaps   map[string]*corev1.ConfigMap
	serviceaccts map[string]*corev1.ServiceAccount
}

// strictDecode decodes JSON into v, refusing any field v's type lacks, as
// the API server's strict field validation does.
func strictDecode(j []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data")
	}
	return nil
}

func buildObjects(t *testing.T) *objects {
	t.Helper()
	out := kustomize(t)
	o := &objects{
		deployments: map[string]*appsv1.Deployment{}, services: map[string]*corev1.Service{},
		pdbs: map[string]*policyv1.PodDisruptionBudget{}, jobs: map[string]*batchv1.Job{},
		cronjobs: map[string]*batchv1.CronJob{}, pvcs: map[string]*corev1.PersistentVolumeClaim{},
		netpols: map[string]*networkingv1.NetworkPolicy{}, configmaps: map[string]*corev1.ConfigMap{},
		ingresses:    map[string]*networkingv1.Ingress{},
		serviceaccts: map[string]*corev1.ServiceAccount{},
	}
	docs := regexp.MustCompile(`(?m)^---\s*$`).Split(string(out), -1)
	n := 0
	for _, doc := range docs {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		n++
		j, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			t.Fatalf("object %d: %v", n, err)
		}
		var tm metav1.TypeMeta
		if err := json.Unmarshal(j, &tm); err != nil {
			t.Fatal(err)
		}
		var target any
		var name *string
		var register func()
		gvk := tm.APIVersion + "/" + tm.Kind
		switch gvk {
		case "apps/v1/Deployment":
			v := &appsv1.Deployment{}
			target, name = v, &v.Name
			register = func() { o.deployments[v.Name] = v }
		case "v1/Service":
			v := &corev1.Service{}
			target, name = v, &v.Name
			register = func() { o.services[v.Name] = v }
		case "policy/v1/PodDisruptionBudget":
			v := &policyv1.PodDisruptionBudget{}
			target, name = v, &v.Name
			register = func() { o.pdbs[v.Name] = v }
		case "batch/v1/Job":
			v := &batchv1.Job{}
			target, name = v, &v.Name
			register = func() { o.jobs[v.Name] = v }
		case "batch/v1/CronJob":
			v := &batchv1.CronJob{}
			target, name = v, &v.Name
			register = func() { o.cronjobs[v.Name] = v }
		case "v1/PersistentVolumeClaim":
			v := &corev1.PersistentVolumeClaim{}
			target, name = v, &v.Name
			register = func() { o.pvcs[v.Name] = v }
		case "networking.k8s.io/v1/NetworkPolicy":
			v := &networkingv1.NetworkPolicy{}
			target, name = v, &v.Name
			register = func() { o.netpols[v.Name] = v }
		case "networking.k8s.io/v1/Ingress":
			v := &networkingv1.Ingress{}
			target, name = v, &v.Name
			register = func() { o.ingresses[v.Name] = v }
		case "v1/ConfigMap":
			v := &corev1.ConfigMap{}
			target, name = v, &v.Name
			register = func() { o.configmaps[v.Name] = v }
		case "v1/ServiceAccount":
			v := &corev1.ServiceAccount{}
			target, name = v, &v.Name
			register = func() { o.serviceaccts[v.Name] = v }
		case "v1/Secret":
			t.Fatalf("object %d is a Secret: secret values never live in the repository", n)
		default:
			t.Fatalf("object %d: unexpected kind %s; teach the test to decode it", n, gvk)
		}
		if err := strictDecode(j, target); err != nil {
			t.Fatalf("%s %d does not decode strictly: %v\n%s", gvk, n, err, doc)
		}
		if *name == "" {
			t.Fatalf("%s %d has no name", gvk, n)
		}
		// What the API server would refuse beyond the schema: names and
		// label keys and values.
		nameErrs := validation.IsDNS1123Subdomain(*name)
		if tm.Kind == "Service" {
			nameErrs = validation.IsDNS1035Label(*name)
		}
		for _, e := range nameErrs {
			t.Errorf("%s %q: invalid name: %s", gvk, *name, e)
		}
		var meta struct {
			Metadata struct {
				Labels map[string]string `json:"labels"`
			} `json:"metadata"`
		}
		json.Unmarshal(j, &meta)
		for k, v := range meta.Metadata.Labels {
			for _, e := range append(validation.IsQualifiedName(k), validation.IsValidLabelValue(v)...) {
				t.Errorf("%s %q: label %s=%s: %s", gvk, *name, k, v, e)
			}
		}
		register()
	}
	if n == 0 {
		t.Fatal("kubectl kustomize built no objects")
	}
	return o
}

// built is the base, built once per test binary.
var built *objects

func k8s(t *testing.T) *objects {
	t.Helper()
	if built == nil {
		built = buildObjects(t)
	}
	return built
}

func container(t *testing.T, spec *corev1.PodSpec, name string) *corev1.Container {
	t.Helper()
	for i := range spec.Containers {
		if spec.Containers[i].Name == name {
			return &spec.Containers[i]
		}
	}
	t.Fatalf("no container %q", name)
	return nil
}

func TestK8sDeployments(t *testing.T) {
	o := k8s(t)
	for _, name := range []string{"backend", "frontend-admin"} {
		t.Run(name, func(t *testing.T) {
			d, ok := o.deployments[name]
			if !ok {
				t.Fatalf("Deployment %q missing (the checklist uses deploy/%s)", name, name)
			}
			if d.Spec.RevisionHistoryLimit == nil || *d.Spec.RevisionHistoryLimit < 2 {
				t.Errorf("revisionHistoryLimit %v: kubectl rollout undo needs at least 2", d.Spec.RevisionHistoryLimit)
			}
			sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
			if err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
				t.Errorf("selector %v does not match template labels %v", d.Spec.Selector, d.Spec.Template.Labels)
			}
			pod := &d.Spec.Template.Spec
			c := container(t, pod, name)
			if c.Image != "ghcr.io/example/casino:1.0.0" {
				t.Errorf("image %q, want kustomize's images: entry applied", c.Image)
			}
			if len(c.Command) < 4 || c.Command[0] != "casino" || c.Command[1] != "serve" || !slices.Contains(c.Command, name) {
				t.Errorf("command %v, want casino serve --role %s", c.Command, name)
			}
			probe := func(kind string, p *corev1.Probe, path string) {
				if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path {
					t.Errorf("%s probe: want HTTP GET %s, got %+v", kind, path, p)
				}
			}
			probe("liveness", c.LivenessProbe, "/api/health")
			probe("readiness", c.ReadinessProbe, "/api/ready")
			probe("startup", c.StartupProbe, "/api/health")
			if name == "backend" && c.StartupProbe != nil {
				// casino waits 30 s for the database and then migrates
				// before listening: the startup budget must cover both.
				budget := time.Duration(c.StartupProbe.PeriodSeconds*c.StartupProbe.FailureThreshold) * time.Second
				if budget < 3*time.Minute {
					t.Errorf("startup probe budget %s does not cover database wait and migrations", budget)
				}
			}
			for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				if _, ok := c.Resources.Requests[res]; !ok {
					t.Errorf("no %s request", res)
				}
				if _, ok := c.Resources.Limits[res]; !ok {
					t.Errorf("no %s limit", res)
				}
			}
			checkNonRoot(t, pod, c)
			if pod.TerminationGracePeriodSeconds == nil || *pod.TerminationGracePeriodSeconds < 25 {
				t.Errorf("terminationGracePeriodSeconds %v shorter than casino's 20 s drain plus preStop", pod.TerminationGracePeriodSeconds)
			}

			// A PodDisruptionBudget and a Service select its pods.
			found := false
			for _, pdb := range o.pdbs {
				s, _ := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
				if s.Matches(labels.Set(d.Spec.Template.Labels)) {
					found = true
				}
			}
			if !found {
				t.Errorf("no PodDisruptionBudget selects deploy/%s", name)
			}
			svc, ok := o.services[name]
			if !ok {
				t.Fatalf("Service %q missing", name)
			}
			if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
				t.Errorf("Service %s selector %v does not match the pods", name, svc.Spec.Selector)
			}
			if len(svc.Spec.Ports) == 0 || svc.Spec.Ports[0].TargetPort.String() != c.Ports[0].Name {
				t.Errorf("Service %s targets %v, want the container port %q", name, svc.Spec.Ports, c.Ports[0].Name)
			}
		})
	}

	// frontend-admin's --backend-url names the backend Service and its port.
	fa := container(t, &o.deployments["frontend-admin"].Spec.Template.Spec, "frontend-admin")
	i := slices.Index(fa.Command, "--backend-url")
	if i < 0 || i+1 >= len(fa.Command) {
		t.Fatalf("frontend-admin has no --backend-url: %v", fa.Command)
	}
	want := fmt.Sprintf("http://backend:%d", o.services["backend"].Spec.Ports[0].Port)
	if fa.Command[i+1] != want {
		t.Errorf("frontend-admin --backend-url %q, want %q", fa.Command[i+1], want)
	}
}

// TestK8sIngressIsTheURL: one host routes /api to the backend Service and /
// to frontend-admin's, by port names the Services have.
func TestK8sIngressIsTheURL(t *testing.T) {
	o := k8s(t)
	if len(o.ingresses) != 1 {
		t.Fatalf("want one Ingress (<URL>), got %d", len(o.ingresses))
	}
	for name, ing := range o.ingresses {
		got := map[string]string{}
		for _, r := range ing.Spec.Rules {
			if r.HTTP == nil {
				continue
			}
			for _, p := range r.HTTP.Paths {
				svc := p.Backend.Service
				if svc == nil {
					t.Errorf("Ingress %s path %s has no service backend", name, p.Path)
					continue
				}
				got[p.Path] = svc.Name
				s, ok := o.services[svc.Name]
				if !ok {
					t.Errorf("Ingress %s path %s: no Service %q", name, p.Path, svc.Name)
					continue
				}
				found := false
				for _, sp := range s.Spec.Ports {
					found = found || sp.Name == svc.Port.Name && svc.Port.Name != "" || sp.Port == svc.Port.Number && svc.Port.Number != 0
				}
				if !found {
					t.Errorf("Ingress %s path %s: Service %s has no port %+v", name, p.Path, svc.Name, svc.Port)
				}
			}
		}
		if got["/api"] != "backend" || got["/"] != "frontend-admin" {
			t.Errorf("Ingress %s routes %v, want /api to backend and / to frontend-admin", name, got)
		}
	}
}

// checkNonRoot requires a non-root user and a read-only root filesystem.
func checkNonRoot(t *testing.T, pod *corev1.PodSpec, c *corev1.Container) {
	t.Helper()
	nonRoot := pod.SecurityContext != nil && pod.SecurityContext.RunAsNonRoot != nil && *pod.SecurityContext.RunAsNonRoot
	if c.SecurityContext != nil && c.SecurityContext.RunAsNonRoot != nil {
		nonRoot = *c.SecurityContext.RunAsNonRoot
	}
	if !nonRoot {
		t.Errorf("container %s: runAsNonRoot not set", c.Name)
	}
	if pod.SecurityContext != nil && pod.SecurityContext.RunAsUser != nil && *pod.SecurityContext.RunAsUser == 0 {
		t.Errorf("container %s: runAsUser 0", c.Name)
	}
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("container %s: readOnlyRootFilesystem not true", c.Name)
	}
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("container %s: allowPrivilegeEscalation not false", c.Name)
	}
}

// allPods lists every pod template of the base with its owner's name.
func allPods(o *objects) map[string]*corev1.PodTemplateSpec {
	pods := map[string]*corev1.PodTemplateSpec{}
	for n, d := range o.deployments {
		pods["deploy/"+n] = &d.Spec.Template
	}
	for n, j := range o.jobs {
		pods["job/"+n] = &j.Spec.Template
	}
	for n, c := range o.cronjobs {
		pods["cronjob/"+n] = &c.Spec.JobTemplate.Spec.Template
	}
	return pods
}

func TestK8sJobsAndBackups(t *testing.T) {
	o := k8s(t)
	var migrate *batchv1.Job
	for _, j := range o.jobs {
		for _, c := range j.Spec.Template.Spec.Containers {
			if slices.Equal(c.Command, []string{"casino", "migrate", "up"}) {
				migrate = j
			}
		}
	}
	if migrate == nil {
		t.Error("no Job runs casino migrate up")
	}

	backups := 0
	for name, cj := range o.cronjobs {
		if c := cj.Spec.JobTemplate.Spec.Template.Spec.Containers; len(c) == 0 || !slices.Equal(c[0].Command[:min(3, len(c[0].Command))], []string{"casino", "backup", "create"}) {
			continue // the drill's CronJob: TestK8sDrillCronJob
		}
		backups++
		if cj.Spec.Schedule != "0 * * * *" {
			t.Errorf("CronJob %s: schedule %q; the 1h RPO in docs/ops/dr_rto_rpo.md assumes hourly", name, cj.Spec.Schedule)
		}
		if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
			t.Errorf("CronJob %s: concurrencyPolicy %q, want Forbid", name, cj.Spec.ConcurrencyPolicy)
		}
		pod := &cj.Spec.JobTemplate.Spec.Template.Spec
		c := &pod.Containers[0]
		if len(c.Command) < 5 || !slices.Equal(c.Command[:3], []string{"casino", "backup", "create"}) || c.Command[3] != "--dir" {
			t.Fatalf("CronJob %s: command %v, want casino backup create --dir DIR", name, c.Command)
		}
		dir := c.Command[4]
		var volName string
		for _, m := range c.VolumeMounts {
			if m.MountPath == dir {
				volName = m.Name
			}
		}
		var claim string
		for _, v := range pod.Volumes {
			if v.Name == volName && v.PersistentVolumeClaim != nil {
				claim = v.PersistentVolumeClaim.ClaimName
			}
		}
		if claim == "" {
			t.Errorf("CronJob %s: --dir %s is not a PersistentVolumeClaim mount", name, dir)
		} else if _, ok := o.pvcs[claim]; !ok {
			t.Errorf("CronJob %s: claim %q not in the base", name, claim)
		}
		checkNonRoot(t, pod, c)
	}
	if backups == 0 {
		t.Fatal("no backup CronJob")
	}

	// The runbook's ops pod mounts the same claim at the same path.
	ops, ok := o.deployments["casino-ops"]
	if !ok {
		t.Fatal("Deployment casino-ops (runbook §3.1) missing")
	}
	if ops.Spec.Replicas == nil || *ops.Spec.Replicas != 0 {
		t.Errorf("casino-ops should idle at 0 replicas")
	}
}

func TestK8sSecretsAreReferencesOnly(t *testing.T) {
	o := k8s(t)
	for owner, tpl := range allPods(o) {
		for _, c := range tpl.Spec.Containers {
			for _, e := range c.Env {
				if !secretName.MatchString(e.Name) {
					continue
				}
				if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
					t.Errorf("%s: env %s must come from a secretKeyRef", owner, e.Name)
				}
			}
		}
	}
	for name, cm := range o.configmaps {
		for k := range cm.Data {
			if secretName.MatchString(k) {
				t.Errorf("ConfigMap %s holds %s; secrets belong in a Secret", name, k)
			}
		}
	}
}

// TestK8sOnlyBackendReachesPostgres: some NetworkPolicy admits port 5432 to
// the PostgreSQL pods; its peers match the backend's pods and never
// frontend-admin's.
func TestK8sOnlyBackendReachesPostgres(t *testing.T) {
	o := k8s(t)
	backend := labels.Set(o.deployments["backend"].Spec.Template.Labels)
	frontend := labels.Set(o.deployments["frontend-admin"].Spec.Template.Labels)
	guarded := false
	for name, np := range o.netpols {
		for _, rule := range np.Spec.Ingress {
			allows5432 := false
			for _, p := range rule.Ports {
				if p.Port != nil && p.Port.IntValue() == 5432 {
					allows5432 = true
				}
			}
			if !allows5432 {
				continue
			}
			guarded = true
			if len(rule.From) == 0 {
				t.Errorf("NetworkPolicy %s admits 5432 from everyone", name)
			}
			backendOK := false
			for _, peer := range rule.From {
				if peer.PodSelector == nil || peer.NamespaceSelector != nil || peer.IPBlock != nil {
					t.Errorf("NetworkPolicy %s: 5432 peer %+v is wider than the backend's pods", name, peer)
					continue
				}
				s, _ := metav1.LabelSelectorAsSelector(peer.PodSelector)
				if s.Empty() {
					t.Errorf("NetworkPolicy %s: 5432 open to every pod", name)
				}
				if s.Matches(frontend) {
					t.Errorf("NetworkPolicy %s lets frontend-admin reach PostgreSQL", name)
				}
				if s.Matches(backend) {
					backendOK = true
				}
			}
			if !backendOK {
				t.Errorf("NetworkPolicy %s does not let the backend reach PostgreSQL", name)
			}
		}
	}
	if !guarded {
		t.Error("no NetworkPolicy guards PostgreSQL's port 5432")
	}
	// frontend-admin's own egress allows no 5432.
	egressLimited := false
	for name, np := range o.netpols {
		s, _ := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if !s.Matches(frontend) || !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
			continue
		}
		egressLimited = true
		for _, rule := range np.Spec.Egress {
			for _, p := range rule.Ports {
				if p.Port != nil && p.Port.IntValue() == 5432 {
					t.Errorf("NetworkPolicy %s lets frontend-admin out to 5432", name)
				}
			}
			if len(rule.Ports) == 0 {
				t.Errorf("NetworkPolicy %s: an egress rule without ports lets frontend-admin reach anything", name)
			}
		}
	}
	if !egressLimited {
		t.Error("no egress NetworkPolicy limits frontend-admin")
	}
}

// TestK8sNamesTheDocsUse: every deploy/X, svc/X, job/X and cronjob/X that a
// kubectl line in docs/ops or deploy/README.md names exists in the base.
func TestK8sNamesTheDocsUse(t *testing.T) {
	o := k8s(t)
	files, _ := filepath.Glob(filepath.Join(root, "docs", "ops", "*.md"))
	files = append(files, filepath.Join(root, "deploy", "README.md"))
	ref := regexp.MustCompile(`\b(deploy|svc|job|cronjob)/([a-z0-9][a-z0-9-]*)`)
	seen := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if !strings.Contains(line, "kubectl") {
				continue
			}
			for _, ix := range ref.FindAllStringSubmatchIndex(line, -1) {
				m := []string{line[ix[0]:ix[1]], line[ix[2]:ix[3]], line[ix[4]:ix[5]]}
				// A repository path (deploy/k8s/…, deploy/cnpg/…), not an object.
				if m[1] == "deploy" && (ix[1] < len(line) && line[ix[1]] == '/' || m[0] == "deploy/k8s") {
					continue
				}
				seen[m[0]] = true
				var ok bool
				switch m[1] {
				case "deploy":
					_, ok = o.deployments[m[2]]
				case "svc":
					_, ok = o.services[m[2]]
				case "job":
					_, ok = o.jobs[m[2]]
					// kubectl create job --from=cronjob/X NAME makes job/NAME
					ok = ok || strings.Contains(line, "create job")
				case "cronjob":
					_, ok = o.cronjobs[m[2]]
				}
				if !ok {
					t.Errorf("%s names %s, which deploy/k8s does not define:\n  %s", filepath.Base(f), m[0], strings.TrimSpace(line))
				}
			}
		}
	}
	for _, must := range []string{"deploy/backend", "deploy/frontend-admin"} {
		if !seen[must] {
			t.Errorf("the docs never use %s; the checklist should", must)
		}
	}
	// Probe paths the docs name are the ones the deployments probe.
	checklist := readFile(t, "docs/ops/dr_checklist.md")
	for _, path := range []string{"/api/health", "/api/ready", "/api/version"} {
		if !strings.Contains(checklist, "<URL>"+path) {
			t.Errorf("checklist does not check %s", path)
		}
	}
}

// ---------------------------------------------------------------------------
// Dockerfile

type stage struct {
	base, name string
	lines      []string
}

func dockerStages(t *testing.T) []stage {
	t.Helper()
	var stages []stage
	// Join continuation lines first.
	text := strings.ReplaceAll(readFile(t, "Dockerfile"), "\\\n", " ")
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if strings.EqualFold(f[0], "FROM") {
			s := stage{base: f[1]}
			if len(f) >= 4 && strings.EqualFold(f[2], "AS") {
				s.name = f[3]
			}
			stages = append(stages, s)
			continue
		}
		if len(stages) > 0 {
			stages[len(stages)-1].lines = append(stages[len(stages)-1].lines, line)
		}
	}
	return stages
}

func TestDockerfile(t *testing.T) {
	stages := dockerStages(t)
	if len(stages) < 2 {
		t.Fatalf("want a multi-stage build, got %d stages", len(stages))
	}
	for _, s := range stages {
		if s.name == "" {
			t.Errorf("stage FROM %s is unnamed", s.base)
		}
	}
	build, final := stages[0], stages[len(stages)-1]
	if build.name != "build" || final.name != "runtime" {
		t.Errorf("stages %q … %q, want build … runtime", build.name, final.name)
	}
	buildText := strings.Join(build.lines, "\n")
	if !strings.Contains(buildText, "CGO_ENABLED=0") {
		t.Error("build stage does not set CGO_ENABLED=0")
	}

	// Every -X casino.Name=… names a string variable of package casino.
	vars := packageStringVars(t)
	xs := regexp.MustCompile(`-X\s+casino\.(\w+)=`).FindAllStringSubmatch(buildText, -1)
	if len(xs) == 0 {
		t.Error("no -X casino.… ldflags in the build stage")
	}
	got := map[string]bool{}
	for _, x := range xs {
		got[x[1]] = true
		if !vars[x[1]] {
			t.Errorf("ldflags set casino.%s, which package casino does not declare as a string var", x[1])
		}
	}
	for _, want := range []string{"Version", "Commit", "BuildTime"} {
		if !got[want] {
			t.Errorf("ldflags do not set casino.%s", want)
		}
	}

	finalText := strings.Join(final.lines, "\n")
	user := regexp.MustCompile(`(?m)^USER\s+(\S+)`).FindStringSubmatch(finalText)
	if user == nil || user[1] == "root" || user[1] == "0" || strings.HasPrefix(user[1], "0:") {
		t.Errorf("runtime stage USER %v, want a non-root uid", user)
	}
	// pg_dump and psql in the image that runs backups and restores, at the
	// PostgreSQL major docker-compose.prod.yml runs.
	if !strings.Contains(finalText, "postgresql${PG_MAJOR}-client") {
		t.Error("runtime stage does not install postgresql${PG_MAJOR}-client (pg_dump, psql)")
	}
	pgMajor := regexp.MustCompile(`(?m)^ARG PG_MAJOR=(\d+)`).FindStringSubmatch(readFile(t, "Dockerfile"))
	composePG := regexp.MustCompile(`image: postgres:(\d+)`).FindStringSubmatch(readFile(t, "docker-compose.prod.yml"))
	if pgMajor == nil || composePG == nil || pgMajor[1] != composePG[1] {
		t.Errorf("PG_MAJOR %v and compose's postgres image %v must be the same major", pgMajor, composePG)
	}
	if !regexp.MustCompile(`(?m)^CMD \["casino", "serve"\]`).MatchString(finalText) {
		t.Error(`runtime stage: want CMD ["casino", "serve"] and no ENTRYPOINT, so "exec backend casino …" works`)
	}
	if strings.Contains(finalText, "ENTRYPOINT") {
		t.Error("runtime stage has an ENTRYPOINT; the docs run casino and ./scripts/… as the command")
	}

	// Everything COPY'd from the context exists and is not .dockerignored.
	ignore := strings.Fields(readFile(t, ".dockerignore"))
	for _, s := range stages {
		for _, line := range s.lines {
			f := strings.Fields(line)
			if !strings.EqualFold(f[0], "COPY") || strings.HasPrefix(f[1], "--from=") {
				continue
			}
			for _, src := range f[1 : len(f)-1] {
				if src == "." {
					continue
				}
				if _, err := os.Stat(filepath.Join(root, src)); err != nil {
					t.Errorf("COPY %s: not in the repository", src)
				}
				if slices.Contains(ignore, strings.TrimSuffix(src, "/")) {
					t.Errorf("COPY %s, but .dockerignore excludes it", src)
				}
			}
		}
	}
	for _, must := range []string{".git", ".env*", "data", "backups"} {
		if !slices.Contains(ignore, must) {
			t.Errorf(".dockerignore does not exclude %s", must)
		}
	}
}

// packageStringVars returns the package-level string variables of package
// casino (the repository root).
func packageStringVars(t *testing.T) map[string]bool {
	t.Helper()
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, root, func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]bool{}
	pkg, ok := pkgs["casino"]
	if !ok {
		t.Fatal("no package casino at the repository root")
	}
	for _, f := range pkg.Files {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			for _, sp := range gd.Specs {
				vs := sp.(*ast.ValueSpec)
				if id, ok := vs.Type.(*ast.Ident); ok && id.Name == "string" {
					for _, n := range vs.Names {
						vars[n.Name] = true
					}
				}
			}
		}
	}
	return vars
}

// TestDockerfileBuildCommand runs the build stage's own "go build" line
// (there is no Docker engine here) with the ARG values filled in, then checks
// that the binary is static and reports the version, commit and build time
// the ldflags set.
func TestDockerfileBuildCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds casino")
	}
	var build stage
	for _, s := range dockerStages(t) {
		if s.name == "build" {
			build = s
		}
	}
	var line string
	for _, l := range build.lines {
		if strings.HasPrefix(l, "RUN ") && strings.Contains(l, "go build") {
			line = strings.TrimPrefix(l, "RUN ")
		}
	}
	if line == "" {
		t.Fatal("no RUN … go build in the build stage")
	}
	// The build line up to "&&" (what follows runs the binary it built).
	line, _, _ = strings.Cut(line, "&&")
	out := t.TempDir()
	want := map[string]string{"VERSION": "9.8.7-test", "COMMIT": "0123abcd", "BUILD_TIME": "2026-11-29T03:00:00Z"}
	line = strings.ReplaceAll(line, "/out/casino", filepath.Join(out, "casino"))
	for k, v := range want {
		line = strings.ReplaceAll(line, "${"+k+"}", v)
	}
	if strings.Contains(line, "${") {
		t.Fatalf("unfilled ARG in %q", line)
	}
	cmd := exec.Command("sh", "-c", line)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", line, err, b)
	}

	f, err := elf.Open(filepath.Join(out, "casino"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary has a dynamic loader: it is not static (CGO_ENABLED=0?)")
		}
	}
	f.Close()

	b, err := exec.Command(filepath.Join(out, "casino"), "version", "--json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Version   string `json:"version"`
		Commit    string `json:"commit"`
		BuildTime string `json:"build_time"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("casino version --json: %v: %s", err, b)
	}
	if got.Version != want["VERSION"] || got.Commit != want["COMMIT"] || got.BuildTime != want["BUILD_TIME"] {
		t.Errorf("casino version --json = %+v, want the ldflags' %v", got, want)
	}
}

// TestK8sPodTemplatesValid: pod template labels and port names are what the
// API server accepts, and every pod runs non-root on a read-only root.
func TestK8sPodTemplatesValid(t *testing.T) {
	o := k8s(t)
	for owner, tpl := range allPods(o) {
		for k, v := range tpl.Labels {
			for _, e := range append(validation.IsQualifiedName(k), validation.IsValidLabelValue(v)...) {
				t.Errorf("%s: pod label %s=%s: %s", owner, k, v, e)
			}
		}
		for i := range tpl.Spec.Containers {
			c := &tpl.Spec.Containers[i]
			for _, p := range c.Ports {
				for _, e := range validation.IsValidPortName(p.Name) {
					t.Errorf("%s: port name %q: %s", owner, p.Name, e)
				}
			}
			checkNonRoot(t, &tpl.Spec, c)
			if c.Resources.Limits.Memory().IsZero() {
				t.Errorf("%s: container %s has no memory limit", owner, c.Name)
			}
		}
		if tpl.Spec.AutomountServiceAccountToken == nil || *tpl.Spec.AutomountServiceAccountToken {
			t.Errorf("%s: mounts a service account token casino never uses", owner)
		}
	}
}
