package deploy

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// TestCNPGRecoveryCluster validates deploy/cnpg/recovery-cluster.yaml
// offline. Cluster is a CRD, so there are no Go types to decode it into
// strictly: it is decoded as unstructured data (duplicate keys refused) and
// every field the runbook relies on is checked, with the spec's keys limited
// to real ClusterSpec fields so a misspelt one cannot pass silently.
func TestCNPGRecoveryCluster(t *testing.T) {
	j, err := yaml.YAMLToJSONStrict([]byte(readFile(t, "deploy/cnpg/recovery-cluster.yaml")))
	if err != nil {
		t.Fatalf("recovery-cluster.yaml: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(j, &c); err != nil {
		t.Fatal(err)
	}
	get := func(path ...string) any {
		var v any = c
		for _, p := range path {
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[p]
		}
		return v
	}
	str := func(path ...string) string { s, _ := get(path...).(string); return s }
	if str("apiVersion") != "postgresql.cnpg.io/v1" || str("kind") != "Cluster" {
		t.Fatalf("want a postgresql.cnpg.io/v1 Cluster, got %s %s", str("apiVersion"), str("kind"))
	}
	name := str("metadata", "name")
	for _, e := range validation.IsDNS1123Label(name) {
		t.Errorf("metadata.name %q: %s", name, e)
	}
	// ClusterSpec fields (CloudNativePG 1.25 API reference) this manifest may use.
	known := []string{"instances", "imageName", "storage", "walStorage", "bootstrap", "externalClusters", "backup", "postgresql",
		"resources", "affinity", "superuserSecret", "enableSuperuserAccess", "primaryUpdateStrategy", "monitoring", "description"}
	spec, _ := get("spec").(map[string]any)
	for k := range spec {
		if !slices.Contains(known, k) {
			t.Errorf("spec.%s is not a ClusterSpec field this test knows: a typo, or teach the test", k)
		}
	}
	if n, ok := get("spec", "instances").(float64); !ok || n < 1 || n != float64(int(n)) {
		t.Errorf("spec.instances %v: want a whole number of at least 1", get("spec", "instances"))
	}
	if !regexp.MustCompile(`:\d+(\.\d+)?(-|$)`).MatchString(str("spec", "imageName")) {
		t.Errorf("spec.imageName %q must pin the PostgreSQL major (WAL does not replay across majors)", str("spec", "imageName"))
	}
	if _, ok := get("spec", "storage", "size").(string); !ok {
		t.Error("spec.storage.size is missing")
	}
	rec, _ := get("spec", "bootstrap", "recovery").(map[string]any)
	if rec == nil {
		t.Fatal("spec.bootstrap.recovery is missing: the Cluster would start empty")
	}
	for k := range get("spec", "bootstrap").(map[string]any) {
		if k != "recovery" {
			t.Errorf("spec.bootstrap.%s: a Cluster bootstraps one way; recovery only", k)
		}
	}
	target, _ := rec["recoveryTarget"].(map[string]any)
	for k := range target {
		if k != "targetTime" && k != "exclusive" {
			t.Errorf("recoveryTarget.%s: the runbook's recovery is to a time only", k)
		}
	}
	tt, _ := target["targetTime"].(string)
	if _, err := time.Parse(time.RFC3339, tt); err != nil || !strings.HasSuffix(tt, "Z") {
		t.Errorf("recoveryTarget.targetTime %q: want an RFC 3339 UTC instant (…Z): %v", tt, err)
	}
	src, _ := rec["source"].(string)
	var ext map[string]any
	exts, _ := get("spec", "externalClusters").([]any)
	for _, e := range exts {
		if m, _ := e.(map[string]any); m["name"] == src {
			ext = m
		}
	}
	if src == "" || ext == nil {
		t.Fatalf("bootstrap.recovery.source %q names no entry of spec.externalClusters", src)
	}
	if src == name {
		t.Errorf("the recovered cluster has its source's name %q: recover into a new Cluster", name)
	}
	store, _ := ext["barmanObjectStore"].(map[string]any)
	dest, _ := store["destinationPath"].(string)
	if store == nil || !strings.HasPrefix(dest, "s3://") || store["serverName"] == nil {
		t.Fatalf("externalClusters[%s].barmanObjectStore needs destinationPath s3://… and serverName", src)
	}
	creds, _ := store["s3Credentials"].(map[string]any)
	if len(creds) == 0 {
		t.Error("barmanObjectStore.s3Credentials is missing")
	}
	for k, v := range creds {
		ref, _ := v.(map[string]any)
		if len(ref) != 2 || ref["name"] == nil || ref["key"] == nil {
			t.Errorf("s3Credentials.%s must be a Secret reference {name, key}, never a value: %v", k, v)
		}
	}
	if b := str("spec", "backup", "barmanObjectStore", "destinationPath"); b != "" && b == dest {
		t.Errorf("spec.backup archives into the source's destinationPath %s: a second timeline there breaks the next recovery", dest)
	}
	doc := readFile(t, "docs/ops/dr_runbook.md")
	for _, want := range []string{"deploy/cnpg/recovery-cluster.yaml", "casino dr record-pitr --tool cnpg", "pgbackrest", "--type=time", "casino dr record-pitr --tool pgbackrest"} {
		if !strings.Contains(doc, want) {
			t.Errorf("dr_runbook.md does not mention %q", want)
		}
	}
}
