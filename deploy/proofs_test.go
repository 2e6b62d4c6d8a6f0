package deploy

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// proofMount returns where c mounts the claim of pod's volumes, whether
// the mount and the volume are read-only, and the claim ("" when none).
func proofMount(pod *corev1.PodSpec, c *corev1.Container, claim string) (path string, readOnly bool, found bool) {
	for _, v := range pod.Volumes {
		if v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != claim {
			continue
		}
		for _, m := range c.VolumeMounts {
			if m.Name == v.Name {
				return m.MountPath, m.ReadOnly && v.PersistentVolumeClaim.ReadOnly, true
			}
		}
	}
	return "", false, false
}

func envValue(c *corev1.Container, name string) (string, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}

// TestK8sProofsVolume: the proof folder the weekly drill writes is the one
// casino dr writes in casino-ops and the one the backend's /dr page reads
// (read-only, as in docker-compose.prod.yml), each through
// CASINO_DR_PROOF_DIR set to the mount; the claim is ReadWriteMany, since
// the backend's replicas spread over nodes while the writers run.
func TestK8sProofsVolume(t *testing.T) {
	o := k8s(t)
	cj, ok := o.cronjobs["casino-drill"]
	if !ok {
		t.Fatal("no CronJob casino-drill")
	}
	dpod := &cj.Spec.JobTemplate.Spec.Template.Spec
	dc := container(t, dpod, "drill")
	claim := ""
	for _, v := range dpod.Volumes {
		for _, m := range dc.VolumeMounts {
			if m.Name == v.Name && m.MountPath == flagValue(dc.Command, "--proof-dir") && v.PersistentVolumeClaim != nil {
				claim = v.PersistentVolumeClaim.ClaimName
			}
		}
	}
	pvc, ok := o.pvcs[claim]
	if !ok {
		t.Fatalf("the drill's --proof-dir is not a claim of the base (claim %q)", claim)
	}
	if !slices.Contains(pvc.Spec.AccessModes, corev1.ReadWriteMany) {
		t.Errorf("claim %s: access modes %v; backend replicas on several nodes read it while the drill writes: want ReadWriteMany", claim, pvc.Spec.AccessModes)
	}

	for _, tc := range []struct {
		deploy, container string
		readOnly          bool
	}{
		{"backend", "backend", true},
		{"casino-ops", "ops", false},
	} {
		d, ok := o.deployments[tc.deploy]
		if !ok {
			t.Fatalf("no Deployment %s", tc.deploy)
		}
		pod := &d.Spec.Template.Spec
		c := container(t, pod, tc.container)
		path, ro, found := proofMount(pod, c, claim)
		if !found {
			t.Errorf("%s does not mount the proofs claim %s", tc.deploy, claim)
			continue
		}
		if ro != tc.readOnly {
			t.Errorf("%s mounts %s read-only=%v, want %v", tc.deploy, claim, ro, tc.readOnly)
		}
		if env, ok := envValue(c, "CASINO_DR_PROOF_DIR"); !ok || env != path {
			t.Errorf("%s mounts the proofs at %s but CASINO_DR_PROOF_DIR is %q (set: %v)", tc.deploy, path, env, ok)
		}
	}
}
