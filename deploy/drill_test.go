package deploy

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	composetypes "github.com/compose-spec/compose-go/v2/types"
)

// flagValue returns the value after flag in argv ("" when absent).
func flagValue(argv []string, flag string) string {
	for i, a := range argv {
		if a == flag && i+1 < len(argv) {
			return argv[i+1]
		}
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v
		}
	}
	return ""
}

// TestK8sDrillCronJob: the weekly drill runs casino dr drill --remote with a
// persistent proof folder, under its own token-less ServiceAccount, with
// resource limits, and a NetworkPolicy lets it reach only PostgreSQL, HTTPS
// (the remote) and DNS, while PostgreSQL's own policy admits it.
func TestK8sDrillCronJob(t *testing.T) {
	o := k8s(t)
	cj, ok := o.cronjobs["casino-drill"]
	if !ok {
		t.Fatal("no CronJob casino-drill")
	}
	// Weekly: a fixed minute, hour and weekday, every day-of-month/month.
	f := strings.Fields(cj.Spec.Schedule)
	if len(f) != 5 || f[2] != "*" || f[3] != "*" || strings.ContainsAny(f[4], "*,-/") || strings.ContainsAny(f[0]+f[1], "*,-/") {
		t.Errorf("schedule %q is not weekly", cj.Spec.Schedule)
	}
	if cj.Spec.ConcurrencyPolicy != "Forbid" {
		t.Errorf("concurrencyPolicy %q, want Forbid", cj.Spec.ConcurrencyPolicy)
	}
	if cj.Spec.JobTemplate.Spec.ActiveDeadlineSeconds == nil {
		t.Error("no activeDeadlineSeconds: a hung drill would run forever")
	}
	tpl := &cj.Spec.JobTemplate.Spec.Template
	pod := &tpl.Spec
	c := container(t, pod, "drill")
	if !slices.Equal(c.Command[:3], []string{"casino", "dr", "drill"}) || !slices.Contains(c.Command, "--remote") {
		t.Errorf("command %v, want casino dr drill --remote ...", c.Command)
	}
	proofDir := flagValue(c.Command, "--proof-dir")
	var proofVol string
	for _, m := range c.VolumeMounts {
		if m.MountPath == proofDir {
			proofVol = m.Name
		}
	}
	claim := ""
	for _, v := range pod.Volumes {
		if v.Name == proofVol && v.PersistentVolumeClaim != nil {
			claim = v.PersistentVolumeClaim.ClaimName
		}
	}
	if _, ok := o.pvcs[claim]; proofDir == "" || !ok {
		t.Errorf("--proof-dir %q is not a PersistentVolumeClaim of the base (volume %q, claim %q): proofs must outlive the pod", proofDir, proofVol, claim)
	}
	if scratch := flagValue(c.Command, "--scratch-dir"); scratch == "" {
		t.Error("no --scratch-dir: downloads need a writable folder on a read-only root")
	}

	// Its own ServiceAccount, without a token.
	if pod.ServiceAccountName == "" || pod.ServiceAccountName == "casino" {
		t.Errorf("serviceAccountName %q, want the drill's own", pod.ServiceAccountName)
	}
	sa, ok := o.serviceaccts[pod.ServiceAccountName]
	if !ok {
		t.Fatalf("ServiceAccount %s not in the base", pod.ServiceAccountName)
	}
	if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
		t.Errorf("ServiceAccount %s mounts a token", sa.Name)
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if q, ok := c.Resources.Limits[r]; !ok || q.IsZero() {
			t.Errorf("no %s limit", r)
		}
		if q, ok := c.Resources.Requests[r]; !ok || q.IsZero() {
			t.Errorf("no %s request", r)
		}
	}
	checkNonRoot(t, pod, c)

	// Network: every Egress policy that selects the drill's pods allows only
	// 5432 to PostgreSQL's pods, 443 and DNS; at least one exists; ingress
	// is denied.
	drill := labels.Set(tpl.Labels)
	postgres := labels.Set{"cnpg.io/cluster": "casino-db"}
	egress, ingressDenied, reachesDB := false, false, false
	for name, np := range o.netpols {
		sel, _ := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if sel.Matches(drill) {
			if slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) && len(np.Spec.Ingress) == 0 {
				ingressDenied = true
			}
			if slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
				egress = true
				for _, rule := range np.Spec.Egress {
					if len(rule.Ports) == 0 {
						t.Errorf("NetworkPolicy %s: an egress rule without ports lets the drill reach anything", name)
					}
					for _, p := range rule.Ports {
						switch port := p.Port.IntValue(); port {
						case 5432:
							for _, peer := range rule.To {
								s, _ := metav1.LabelSelectorAsSelector(peer.PodSelector)
								if peer.PodSelector == nil || peer.IPBlock != nil || peer.NamespaceSelector != nil || !s.Matches(postgres) || s.Empty() {
									t.Errorf("NetworkPolicy %s: 5432 to %+v, want PostgreSQL's pods only", name, peer)
								}
							}
							if len(rule.To) == 0 {
								t.Errorf("NetworkPolicy %s: 5432 to anywhere", name)
							}
						case 443, 53:
						default:
							t.Errorf("NetworkPolicy %s lets the drill out to port %d", name, port)
						}
					}
				}
			}
		}
		// PostgreSQL's ingress admits the drill on 5432.
		if admitsOn5432(np, postgres, drill) {
			reachesDB = true
		}
	}
	if !egress {
		t.Error("no egress NetworkPolicy limits the drill")
	}
	if !ingressDenied {
		t.Error("no NetworkPolicy denies ingress to the drill")
	}
	if !reachesDB {
		t.Error("PostgreSQL's NetworkPolicy does not admit the drill on 5432")
	}
}

// TestComposeDrillService: the compose drill service runs casino dr drill
// weekly in a loop like the backup service, writes proofs to a named volume
// the backend reads (read-only) as its CASINO_DR_PROOF_DIR, sits only on
// the database network, and has resource limits.
func TestComposeDrillService(t *testing.T) {
	p := loadCompose(t)
	d, ok := p.Services["drill"]
	if !ok {
		t.Fatalf("no drill service; have %v", p.ServiceNames())
	}
	cmd := strings.Join(d.Command, " ")
	if len(d.Command) != 3 || d.Command[0] != "sh" || !strings.Contains(cmd, "casino dr drill ") || !strings.Contains(cmd, "sleep 604800") {
		t.Errorf("command %q, want a weekly loop of casino dr drill (sleep 604800) like the backup service", cmd)
	}
	if d.Init == nil || !*d.Init {
		t.Error("no init: the shell loop would not stop on SIGTERM")
	}
	proofDir := ""
	if f := strings.Fields(cmd); true {
		proofDir = flagValue(f, "--proof-dir")
	}
	var vol string
	for _, m := range d.Volumes {
		if m.Type == composetypes.VolumeTypeVolume && m.Target == proofDir {
			vol = m.Source
		}
	}
	if _, ok := p.Volumes[vol]; proofDir == "" || !ok {
		t.Fatalf("--proof-dir %q is not a named volume (mounts %+v)", proofDir, d.Volumes)
	}
	be := p.Services["backend"]
	readOnly := false
	for _, m := range be.Volumes {
		if m.Source == vol {
			readOnly = m.ReadOnly
			if env := be.Environment["CASINO_DR_PROOF_DIR"]; env == nil || *env != m.Target {
				t.Errorf("backend mounts the proofs at %s but CASINO_DR_PROOF_DIR is %v", m.Target, env)
			}
		}
	}
	if !readOnly {
		t.Errorf("backend does not mount the proofs volume %q read-only", vol)
	}
	if len(d.Networks) != 1 {
		t.Errorf("drill networks %v, want the database network only", d.Networks)
	}
	for net := range d.Networks {
		if _, ok := p.Services["postgres"].Networks[net]; !ok {
			t.Errorf("drill is on %q, not postgres's network", net)
		}
	}
	if d.Deploy == nil || d.Deploy.Resources.Limits == nil || d.Deploy.Resources.Limits.MemoryBytes == 0 || d.Deploy.Resources.Limits.NanoCPUs == 0 {
		t.Errorf("drill has no cpu and memory limits: %+v", d.Deploy)
	}
	if d.Image != be.Image || d.User != be.User || !d.ReadOnly {
		t.Errorf("drill runs image %q as %q read-only=%v; want the backend's image, user and a read-only root", d.Image, d.User, d.ReadOnly)
	}
}

// admitsOn5432 reports whether np, when it selects the pod labelled
// postgres, admits pods labelled peer on port 5432.
func admitsOn5432(np *networkingv1.NetworkPolicy, postgres, peer labels.Set) bool {
	if s, _ := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector); !s.Matches(postgres) {
		return false
	}
	for _, rule := range np.Spec.Ingress {
		for _, p := range rule.Ports {
			if p.Port == nil || p.Port.IntValue() != 5432 {
				continue
			}
			for _, from := range rule.From {
				if s, _ := metav1.LabelSelectorAsSelector(from.PodSelector); from.PodSelector != nil && s.Matches(peer) {
					return true
				}
			}
		}
	}
	return false
}
