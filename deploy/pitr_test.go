package deploy

import (
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	composetypes "github.com/compose-spec/compose-go/v2/types"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// pitrEnv is .env.example with its commented PITR block turned on, as the
// setup docs tell an operator to do.
func pitrEnv(t *testing.T) string {
	t.Helper()
	env := readFile(t, ".env.example")
	on := regexp.MustCompile(`(?m)^# ?((?:COMPOSE_PROFILES|CASINO_PITR|CASINO_PITR_REPLICATION_URL)=.*)$`)
	if n := len(on.FindAllString(env, -1)); n != 3 {
		t.Fatalf(".env.example: want the commented COMPOSE_PROFILES, CASINO_PITR and CASINO_PITR_REPLICATION_URL lines that turn PITR on, found %d", n)
	}
	return on.ReplaceAllString(env, "$1")
}

// dotenvValue returns KEY's value in a .env text.
func dotenvValue(env, key string) string {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(key) + `=(.*)$`).FindStringSubmatch(env)
	if m == nil {
		return ""
	}
	return strings.TrimSpace(m[1])
}

// TestComposePITRStream: the pitr-stream service is off in a plain "up"
// (profile pitr) and on with COMPOSE_PROFILES=pitr from .env; it runs
// casino pitr stream in the backend's image with --dir on a volume of its
// own, metrics for Prometheus and a healthcheck on them, the signing key as
// a secret file, a replication URL from .env whose role is not the
// application's and whose password is not in the command, and it reaches
// PostgreSQL and the bucket.
func TestComposePITRStream(t *testing.T) {
	t.Parallel()
	if p := loadCompose(t); p.Services["pitr-stream"].Name != "" {
		t.Error("pitr-stream runs in a plain docker compose up: it needs the replication role, so it belongs to profile pitr")
	} else if _, ok := p.DisabledServices["pitr-stream"]; !ok {
		t.Fatalf("no pitr-stream service (profile pitr); have %v", p.ServiceNames())
	}
	env := pitrEnv(t)
	p := loadComposeEnv(t, env)
	s, ok := p.Services["pitr-stream"]
	if !ok {
		t.Fatalf("COMPOSE_PROFILES=pitr in .env does not start pitr-stream; have %v", p.ServiceNames())
	}
	if !slices.Equal(s.Profiles, []string{"pitr"}) {
		t.Errorf("profiles %v, want [pitr]", s.Profiles)
	}
	be := p.Services["backend"]
	if s.Image != be.Image || s.User != be.User || !s.ReadOnly {
		t.Errorf("pitr-stream runs image %q as %q read-only=%v; want the backend's image and user, read-only", s.Image, s.User, s.ReadOnly)
	}
	if len(s.Command) < 3 || !slices.Equal(s.Command[:3], []string{"casino", "pitr", "stream"}) {
		t.Fatalf("command %v, want casino pitr stream …", s.Command)
	}
	if s.Deploy != nil && s.Deploy.Replicas != nil && *s.Deploy.Replicas != 1 {
		t.Errorf("replicas %d: one stream per slot", *s.Deploy.Replicas)
	}

	// --dir is a named volume only the stream mounts.
	dir := flagValue(s.Command, "--dir")
	var vol string
	for _, m := range s.Volumes {
		if m.Type == composetypes.VolumeTypeVolume && m.Target == dir && !m.ReadOnly {
			vol = m.Source
		}
	}
	if _, ok := p.Volumes[vol]; dir == "" || !ok {
		t.Errorf("--dir %q is not a writable named volume (mounts %+v)", dir, s.Volumes)
	}
	for name, o := range p.Services {
		for _, m := range o.Volumes {
			if name != "pitr-stream" && vol != "" && m.Source == vol {
				t.Errorf("service %s mounts the stream's volume %s too", name, vol)
			}
		}
	}
	// The image creates the folder owned by casino's uid, or a new volume
	// would be root's and unwritable.
	if !regexp.MustCompile(`mkdir -p [^&]*` + regexp.QuoteMeta(dir) + `\b[\s\S]*chown 65532:65532 [^&]*` + regexp.QuoteMeta(dir) + `\b`).MatchString(readFile(t, "Dockerfile")) {
		t.Errorf("the Dockerfile does not create %s owned by 65532", dir)
	}

	// The replication URL: from .env, a role of its own with a password
	// that never appears in the command.
	if slices.ContainsFunc(s.Command, func(a string) bool { return strings.Contains(a, "replication-url") || strings.Contains(a, "://") }) {
		t.Errorf("command %v carries the replication URL: its password would show in the process list; casino reads CASINO_PITR_REPLICATION_URL", s.Command)
	}
	if len(s.EnvFiles) == 0 {
		t.Error("pitr-stream has no env_file: CASINO_PITR_REPLICATION_URL comes from .env")
	}
	ru, err := url.Parse(dotenvValue(env, "CASINO_PITR_REPLICATION_URL"))
	if err != nil || ru.User == nil {
		t.Fatalf("CASINO_PITR_REPLICATION_URL in .env.example: %v", err)
	}
	du, err := url.Parse(dotenvValue(env, "DATABASE_URL"))
	if err != nil || du.User == nil {
		t.Fatalf("DATABASE_URL in .env.example: %v", err)
	}
	owner := dotenvValue(env, "POSTGRES_USER")
	if role := ru.User.Username(); role == "" || role == du.User.Username() || role == owner || role == "postgres" {
		t.Errorf("the replication role is %q, the application's (DATABASE_URL %q, POSTGRES_USER %q): the stream needs a role of its own", role, du.User.Username(), owner)
	}
	if pw, _ := ru.User.Password(); pw != "change-me" {
		t.Errorf("CASINO_PITR_REPLICATION_URL's password in .env.example must be the placeholder change-me")
	}
	if ru.Host != "postgres:5432" || ru.Path != "/postgres" {
		t.Errorf("CASINO_PITR_REPLICATION_URL %s@%s%s: want the postgres service and the postgres database (the heartbeat must not hold a session on casino's)", ru.User.Username(), ru.Host, ru.Path)
	}
	if dotenvValue(env, "CASINO_PITR") != "wal" {
		t.Error("turning PITR on in .env does not set CASINO_PITR=wal: serve's alerts and dr declare would not know")
	}

	// The signing key is a secret file, as the backup service has it.
	hasSecret := func(svc composetypes.ServiceConfig, name string) bool {
		return slices.ContainsFunc(svc.Secrets, func(r composetypes.ServiceSecretConfig) bool { return r.Source == name })
	}
	for _, ref := range p.Services["backup"].Secrets {
		if strings.Contains(ref.Source, "signing_key") && !hasSecret(s, ref.Source) {
			t.Errorf("pitr-stream lacks the secret %s the backup service signs with", ref.Source)
		}
	}
	if len(s.Secrets) == 0 {
		t.Error("pitr-stream mounts no signing key secret; casino pitr stream refuses to start without one")
	}

	// Metrics: --metrics-addr's port is published on loopback and is what
	// the healthcheck asks.
	addr := flagValue(s.Command, "--metrics-addr")
	_, port, _ := strings.Cut(addr, ":")
	if addr == "" || port == "" {
		t.Fatalf("no --metrics-addr :PORT in %v", s.Command)
	}
	published := false
	for _, pc := range s.Ports {
		published = published || strconv.Itoa(int(pc.Target)) == port && pc.HostIP == "127.0.0.1"
	}
	if !published {
		t.Errorf("metrics port %s is not published on 127.0.0.1 (ports %+v)", port, s.Ports)
	}
	if hc := s.HealthCheck; hc == nil || !strings.Contains(strings.Join(hc.Test, " "), "127.0.0.1:"+port+"/metrics") {
		t.Errorf("healthcheck %+v, want a GET of the metrics port", s.HealthCheck)
	}
	if s.Restart != "unless-stopped" && s.Restart != "always" {
		t.Errorf("restart %q", s.Restart)
	}
	if s.Init == nil || !*s.Init {
		t.Error("no init: pg_receivewal and pg_basebackup children need a reaper")
	}
	if d, ok := s.DependsOn["postgres"]; !ok || d.Condition != composetypes.ServiceConditionHealthy {
		t.Errorf("depends_on %+v, want postgres service_healthy", s.DependsOn)
	}
	if s.Deploy == nil || s.Deploy.Resources.Limits == nil || s.Deploy.Resources.Limits.MemoryBytes == 0 || s.Deploy.Resources.Limits.NanoCPUs == 0 {
		t.Errorf("pitr-stream has no cpu and memory limits: %+v", s.Deploy)
	}
	onDB, out := false, false
	for net := range s.Networks {
		_, onDB2 := p.Services["postgres"].Networks[net]
		onDB = onDB || onDB2
		out = out || !p.Networks[net].Internal
	}
	if !onDB || !out {
		t.Errorf("networks %v: want postgres's network and one that reaches the bucket", s.Networks)
	}
}

// TestComposePostgresAllowsPITRStream: the compose postgres caps slot
// retention with max_slot_wal_keep_size (a stopped stream must not fill the
// disk), keeps wal_level replica, and mounts the script that makes the
// replication role and its pg_hba line into the image's initdb.d.
func TestComposePostgresAllowsPITRStream(t *testing.T) {
	t.Parallel()
	p := loadCompose(t)
	pg := p.Services["postgres"]
	setting := func(name string) string {
		for i, a := range pg.Command {
			if v, ok := strings.CutPrefix(a, name+"="); ok && i > 0 && pg.Command[i-1] == "-c" {
				return v
			}
		}
		return ""
	}
	if v := setting("max_slot_wal_keep_size"); !regexp.MustCompile(`^[1-9][0-9]*(MB|GB|TB)$`).MatchString(v) {
		t.Errorf("postgres command %v: want -c max_slot_wal_keep_size=<size> (required by docs/ops/pitr.md), got %q", pg.Command, v)
	}
	if v := setting("wal_level"); v != "" && v != "replica" && v != "logical" {
		t.Errorf("postgres wal_level=%s: streaming needs replica", v)
	}
	if len(pg.Command) == 0 || pg.Command[0] != "postgres" {
		t.Errorf("postgres command %v must start with postgres (the image's entrypoint runs initdb for it)", pg.Command)
	}
	// The replication role script, from the repository, into initdb.d.
	var script string
	for _, c := range pg.Configs {
		if strings.HasPrefix(c.Target, "/docker-entrypoint-initdb.d/") && strings.HasSuffix(c.Target, ".sh") {
			script = p.Configs[c.Source].File
		}
	}
	if script == "" {
		t.Fatalf("postgres mounts no script into /docker-entrypoint-initdb.d (configs %+v)", pg.Configs)
	}
	want := "deploy/postgres/10-casino-pitr-role.sh"
	if !strings.HasSuffix(script, want) {
		t.Errorf("initdb script %s, want %s", script, want)
	}
	if !strings.Contains(readFile(t, want), "host replication $role") {
		t.Errorf("%s appends no pg_hba replication line", want)
	}
}

// TestK8sPITRStream: casino-pitr-stream runs exactly one pod, never two at
// once (Recreate), streams into a PVC of the base with --dir, reads the
// replication URL from a Secret that is not the application's, signs with
// the backup key's Secret, exposes its metrics port to Prometheus, and a
// NetworkPolicy lets it out only to PostgreSQL, HTTPS and DNS, while
// PostgreSQL's policy admits it.
func TestK8sPITRStream(t *testing.T) {
	o := k8s(t)
	d, ok := o.deployments["casino-pitr-stream"]
	if !ok {
		t.Fatal("no Deployment casino-pitr-stream")
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
		t.Errorf("replicas %v, want 1: one reader per replication slot", d.Spec.Replicas)
	}
	if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("strategy %q, want Recreate: a rolling update runs two streams on one slot and folder", d.Spec.Strategy.Type)
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("selector %v does not match template labels %v", d.Spec.Selector, d.Spec.Template.Labels)
	}
	pod := &d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want the stream alone", len(pod.Containers))
	}
	c := &pod.Containers[0]
	args := append(slices.Clone(c.Command), c.Args...)
	if len(args) < 3 || !slices.Equal(args[:3], []string{"casino", "pitr", "stream"}) {
		t.Fatalf("command %v, want casino pitr stream …", args)
	}
	if c.Image != "ghcr.io/example/casino:1.0.0" {
		t.Errorf("image %q, want the casino image (kustomize's images: entry)", c.Image)
	}

	// --dir on a PVC of the base.
	dir := flagValue(args, "--dir")
	var volName string
	for _, m := range c.VolumeMounts {
		if m.MountPath == dir && !m.ReadOnly {
			volName = m.Name
		}
	}
	var claim string
	for _, v := range pod.Volumes {
		if v.Name == volName && v.PersistentVolumeClaim != nil {
			claim = v.PersistentVolumeClaim.ClaimName
		}
	}
	pvc, ok := o.pvcs[claim]
	if dir == "" || !ok {
		t.Fatalf("--dir %q is not a writable PersistentVolumeClaim of the base (volume %q, claim %q)", dir, volName, claim)
	}
	if claim == "casino-backups" || claim == "casino-dr-proofs" {
		t.Errorf("the stream writes into %s; it needs a claim of its own", claim)
	}
	if len(pvc.Spec.AccessModes) == 0 {
		t.Errorf("PVC %s has no access mode", claim)
	}

	// The replication URL from a Secret of its own; no owner credential.
	if slices.ContainsFunc(args, func(a string) bool { return strings.Contains(a, "replication-url") || strings.Contains(a, "://") }) {
		t.Errorf("command %v carries the replication URL; it belongs in the environment", args)
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	ru, ok := env["CASINO_PITR_REPLICATION_URL"]
	if !ok || ru.ValueFrom == nil || ru.ValueFrom.SecretKeyRef == nil {
		t.Fatalf("CASINO_PITR_REPLICATION_URL is not from a Secret: %+v", ru)
	}
	if ref := ru.ValueFrom.SecretKeyRef; ref.Name == "casino-db" || ref.Key == "DATABASE_URL" {
		t.Errorf("the replication URL comes from %s/%s, the application's credential", ref.Name, ref.Key)
	}
	if _, ok := env["DATABASE_URL"]; ok {
		t.Error("the stream gets DATABASE_URL, the owner's credential; it needs only the replication role")
	}
	for _, ef := range c.EnvFrom {
		if ef.SecretRef != nil {
			t.Errorf("envFrom Secret %s: every secret the stream holds must be named", ef.SecretRef.Name)
		}
	}
	if sk, ok := env["CASINO_BACKUP_SIGNING_KEY"]; !ok || sk.ValueFrom == nil || sk.ValueFrom.SecretKeyRef == nil || sk.ValueFrom.SecretKeyRef.Name != "casino-backup-keys" {
		t.Errorf("CASINO_BACKUP_SIGNING_KEY %+v, want the casino-backup-keys Secret the backup CronJob signs with", sk)
	}

	// Metrics: --metrics-addr's port is a named container port, annotated
	// for the kubernetes-pods scrape job, and probed.
	addr := flagValue(args, "--metrics-addr")
	_, port, _ := strings.Cut(addr, ":")
	var metricsPort *corev1.ContainerPort
	for i := range c.Ports {
		if strconv.Itoa(int(c.Ports[i].ContainerPort)) == port {
			metricsPort = &c.Ports[i]
		}
	}
	if addr == "" || metricsPort == nil {
		t.Fatalf("--metrics-addr %q is not a container port (%+v)", addr, c.Ports)
	}
	ann := d.Spec.Template.Annotations
	if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/port"] != port {
		t.Errorf("pod annotations %v, want prometheus.io/scrape true and port %s", ann, port)
	}
	if p := c.LivenessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/metrics" || p.HTTPGet.Port.String() != metricsPort.Name && p.HTTPGet.Port.IntValue() != int(metricsPort.ContainerPort) {
		t.Errorf("liveness probe %+v, want GET /metrics on the metrics port", c.LivenessProbe)
	}
	checkNonRoot(t, pod, c)
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if q, ok := c.Resources.Limits[r]; !ok || q.IsZero() {
			t.Errorf("no %s limit", r)
		}
		if q, ok := c.Resources.Requests[r]; !ok || q.IsZero() {
			t.Errorf("no %s request", r)
		}
	}

	// Network: out only to PostgreSQL (5432, its pods), HTTPS and DNS; in
	// only on the metrics port; PostgreSQL admits it.
	stream := labels.Set(d.Spec.Template.Labels)
	postgres := labels.Set{"cnpg.io/cluster": "casino-db"}
	egress, ingressLimited, reachesDB := false, false, false
	for name, np := range o.netpols {
		if s, _ := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector); s.Matches(stream) {
			if slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
				ingressLimited = true
				for _, rule := range np.Spec.Ingress {
					for _, p := range rule.Ports {
						if p.Port == nil || p.Port.String() != port && p.Port.String() != metricsPort.Name {
							t.Errorf("NetworkPolicy %s admits port %v; only metrics %s", name, p.Port, port)
						}
					}
					if len(rule.Ports) == 0 {
						t.Errorf("NetworkPolicy %s admits every port", name)
					}
				}
			}
			if slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
				egress = true
				for _, rule := range np.Spec.Egress {
					if len(rule.Ports) == 0 {
						t.Errorf("NetworkPolicy %s: an egress rule without ports lets the stream reach anything", name)
					}
					for _, p := range rule.Ports {
						switch p.Port.IntValue() {
						case 5432:
							for _, peer := range rule.To {
								s, _ := metav1.LabelSelectorAsSelector(peer.PodSelector)
								if peer.PodSelector == nil || peer.IPBlock != nil || peer.NamespaceSelector != nil || s.Empty() || !s.Matches(postgres) {
									t.Errorf("NetworkPolicy %s: 5432 to %+v, want PostgreSQL's pods only", name, peer)
								}
							}
							if len(rule.To) == 0 {
								t.Errorf("NetworkPolicy %s: 5432 to anywhere", name)
							}
						case 443, 53:
						default:
							t.Errorf("NetworkPolicy %s lets the stream out to port %v", name, p.Port)
						}
					}
				}
			}
		}
		if admitsOn5432(np, postgres, stream) {
			reachesDB = true
		}
	}
	if !egress {
		t.Error("no egress NetworkPolicy limits the stream")
	}
	if !ingressLimited {
		t.Error("no NetworkPolicy limits ingress to the stream")
	}
	if !reachesDB {
		t.Error("PostgreSQL's NetworkPolicy does not admit the stream on 5432")
	}

	// serve (its PITR alerts) and dr declare (casino-ops) know PITR is on
	// where the stream runs; frontend-admin, which has no PostgreSQL and
	// refuses CASINO_PITR=wal, does not get it.
	for _, name := range []string{"backend", "casino-ops", "frontend-admin"} {
		d, ok := o.deployments[name]
		if !ok {
			t.Errorf("no Deployment %s", name)
			continue
		}
		mode := ""
		for _, c := range d.Spec.Template.Spec.Containers {
			for _, ef := range c.EnvFrom {
				if ef.ConfigMapRef != nil {
					if v, ok := o.configmaps[ef.ConfigMapRef.Name].Data["CASINO_PITR"]; ok {
						mode = v
					}
				}
			}
			for _, e := range c.Env {
				if e.Name == "CASINO_PITR" && e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
					ref := e.ValueFrom.ConfigMapKeyRef
					mode = o.configmaps[ref.Name].Data[ref.Key]
				} else if e.Name == "CASINO_PITR" {
					mode = e.Value
				}
			}
		}
		if want := map[bool]string{true: "", false: "wal"}[name == "frontend-admin"]; mode != want {
			t.Errorf("deploy/%s: CASINO_PITR %q, want %q", name, mode, want)
		}
	}
}

// TestComposeVolumesOwnedByCasino: every named volume a casino service
// mounts writable sits on a folder the Dockerfile creates owned by uid
// 65532. Docker seeds a new named volume with the image folder's owner; a
// folder the image lacks comes up root-owned, and casino (non-root, read-only
// root) cannot write its backups, proofs or stream there.
func TestComposeVolumesOwnedByCasino(t *testing.T) {
	t.Parallel()
	p := loadCompose(t, "*")
	docker := strings.ReplaceAll(readFile(t, "Dockerfile"), "\\\n", " ")
	owned := map[string]bool{}
	for _, m := range regexp.MustCompile(`chown 65532:65532 ([^&\n]+)`).FindAllStringSubmatch(docker, -1) {
		for _, f := range strings.Fields(m[1]) {
			owned[f] = true
		}
	}
	made := map[string]bool{}
	for _, m := range regexp.MustCompile(`mkdir -p ([^&\n]+)`).FindAllStringSubmatch(docker, -1) {
		for _, f := range strings.Fields(m[1]) {
			made[f] = true
		}
	}
	checked := 0
	for name, s := range p.Services {
		if !casinoServices[name] {
			continue
		}
		for _, m := range s.Volumes {
			if m.Type != composetypes.VolumeTypeVolume || m.ReadOnly {
				continue
			}
			checked++
			if !made[m.Target] || !owned[m.Target] {
				t.Errorf("service %s writes volume %s at %s, which the Dockerfile does not create owned by 65532", name, m.Source, m.Target)
			}
		}
	}
	if checked < 3 {
		t.Errorf("checked %d writable volumes, want backups, proofs and pitr at least", checked)
	}
}
