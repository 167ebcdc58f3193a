// Package k8s_test checks the Kubernetes reference manifests against the
// Kubernetes API types with strict decoding (an unknown or misspelt field
// fails), and against faxd's own configuration rules. It is test-only, so
// the Kubernetes API modules never reach the faxd binary.
package k8s_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/faxd/faxd/internal/config"
)

// objects are the decoded manifests by kind and name.
type objects struct {
	configMaps   map[string]*corev1.ConfigMap
	secrets      map[string]*corev1.Secret
	services     map[string]*corev1.Service
	statefulSets map[string]*appsv1.StatefulSet
	pdbs         map[string]*policyv1.PodDisruptionBudget
}

// decodeStrict decodes one YAML document into the type its kind names,
// refusing unknown fields.
func decodeStrict(o *objects, where string, doc []byte) error {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	strict := func(v any) error {
		if err := yaml.UnmarshalStrict(doc, v); err != nil {
			return fmt.Errorf("%s (%s %s): %w", where, tm.APIVersion, tm.Kind, err)
		}
		return nil
	}
	switch tm.APIVersion + " " + tm.Kind {
	case "v1 ConfigMap":
		v := &corev1.ConfigMap{}
		if err := strict(v); err != nil {
			return err
		}
		o.configMaps[v.Name] = v
	case "v1 Secret":
		v := &corev1.Secret{}
		if err := strict(v); err != nil {
			return err
		}
		o.secrets[v.Name] = v
	case "v1 Service":
		v := &corev1.Service{}
		if err := strict(v); err != nil {
			return err
		}
		o.services[v.Name] = v
	case "apps/v1 StatefulSet":
		v := &appsv1.StatefulSet{}
		if err := strict(v); err != nil {
			return err
		}
		o.statefulSets[v.Name] = v
	case "policy/v1 PodDisruptionBudget":
		v := &policyv1.PodDisruptionBudget{}
		if err := strict(v); err != nil {
			return err
		}
		o.pdbs[v.Name] = v
	default:
		return fmt.Errorf("%s: unexpected %q %q", where, tm.APIVersion, tm.Kind)
	}
	return nil
}

func load(t *testing.T) *objects {
	t.Helper()
	o := &objects{map[string]*corev1.ConfigMap{}, map[string]*corev1.Secret{}, map[string]*corev1.Service{},
		map[string]*appsv1.StatefulSet{}, map[string]*policyv1.PodDisruptionBudget{}}
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) < 5 {
		t.Fatalf("manifests: %v %v", files, err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range strings.Split(string(data), "\n---\n") {
			if err := decodeStrict(o, fmt.Sprintf("%s document %d", f, i+1), []byte(doc)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return o
}

// The strict decoding is real: a misspelt field is refused.
func TestStrictDecodingRefusesUnknownFields(t *testing.T) {
	data, err := os.ReadFile("statefulset.yaml")
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(data), "readinessProbe:", "readinesProbe:", 1)
	o := &objects{statefulSets: map[string]*appsv1.StatefulSet{}}
	if err := decodeStrict(o, "statefulset.yaml", []byte(bad)); err == nil || !strings.Contains(err.Error(), "readinesProbe") {
		t.Fatalf("misspelt field: %v", err)
	}
}

// The manifests fit together and fit faxd: the configuration loads with
// the pod's environment, the NATS routes are the StatefulSet's pods, the
// probes hit /readyz and /healthz, a stopping pod has time to drain its
// calls, the disruption budget keeps the NATS quorum, and every name one
// object uses another defines.
func TestManifestsFitTogether(t *testing.T) {
	o := load(t)
	sts := o.statefulSets["faxd"]
	if sts == nil {
		t.Fatal("no StatefulSet faxd")
	}
	pod := sts.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := pod.Containers[0]

	// Configuration: the ConfigMap's faxd.yaml with the pod's variables.
	var cm *corev1.ConfigMap
	var cfgPath string
	for _, v := range pod.Volumes {
		if v.ConfigMap != nil {
			cm = o.configMaps[v.ConfigMap.Name]
			for _, m := range c.VolumeMounts {
				if m.Name == v.Name {
					cfgPath = m.MountPath
				}
			}
		}
	}
	if cm == nil || cfgPath == "" {
		t.Fatal("no ConfigMap volume mounted")
	}
	if i := slices.Index(c.Args, "-config"); i < 0 || i+1 >= len(c.Args) || c.Args[i+1] != filepath.Join(cfgPath, "faxd.yaml") {
		t.Fatalf("args %q do not name %s/faxd.yaml", c.Args, cfgPath)
	}
	env := []string{}
	for _, e := range c.Env {
		env = append(env, e.Name+"=faxd-1") // what the downward API gives pod 1 (hostIP stands in too)
	}
	for _, ef := range c.EnvFrom {
		sec := o.secrets[ef.SecretRef.Name]
		if sec == nil {
			t.Fatalf("envFrom names Secret %q, not in the manifests", ef.SecretRef.Name)
		}
		for k, v := range sec.StringData {
			env = append(env, k+"="+v)
		}
	}
	// public_host must be an address or name; the pod's hostIP stands in.
	env = slices.DeleteFunc(env, func(s string) bool { return strings.HasPrefix(s, "FAXD_SIP_PUBLIC_HOST=") })
	env = append(env, "FAXD_SIP_PUBLIC_HOST=10.0.0.11")
	// secrets.key_env names a variable faxd reads from its process
	// environment; the Secret's placeholder key is replaced by a valid one.
	env = slices.DeleteFunc(env, func(s string) bool { return strings.HasPrefix(s, "SECRETS_KEYS=") })
	t.Setenv("SECRETS_KEYS", "k1 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	f := filepath.Join(t.TempDir(), "faxd.yaml")
	if err := os.WriteFile(f, []byte(cm.Data["faxd.yaml"]), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(f, env)
	if err != nil {
		t.Fatalf("the ConfigMap's faxd.yaml with the pod's environment: %v", err)
	}
	if cfg.Node.ID != "faxd-1" || cfg.NATS.ServerName != "faxd-1" || cfg.Database.QueueDSN == "" {
		t.Fatalf("node.id %q server_name %q queue_dsn set %v", cfg.Node.ID, cfg.NATS.ServerName, cfg.Database.QueueDSN != "")
	}

	// NATS: one route per pod, through the headless service; the stream's
	// replicas fit in the cluster.
	replicas := int(*sts.Spec.Replicas)
	var want []string
	for i := range replicas {
		want = append(want, fmt.Sprintf("%s-%d.%s:6222", sts.Name, i, sts.Spec.ServiceName))
	}
	if !slices.Equal(cfg.NATS.Cluster.Routes, want) {
		t.Errorf("nats.cluster.routes %q, want %q", cfg.NATS.Cluster.Routes, want)
	}
	if cfg.NATS.StreamReplicas > replicas || cfg.NATS.StreamReplicas < 3 {
		t.Errorf("nats.stream_replicas %d with %d pods", cfg.NATS.StreamReplicas, replicas)
	}
	headless := o.services[sts.Spec.ServiceName]
	if headless == nil || headless.Spec.ClusterIP != "None" || !headless.Spec.PublishNotReadyAddresses {
		t.Fatalf("service %q: want headless, publishing pods before they are ready", sts.Spec.ServiceName)
	}

	// Probes and ports.
	port := func(name string) int32 {
		for _, p := range c.Ports {
			if p.Name == name {
				return p.ContainerPort
			}
		}
		t.Fatalf("no container port %q", name)
		return 0
	}
	if _, p, _ := strings.Cut(cfg.HTTP.Listen, ":"); p != fmt.Sprint(port("http")) {
		t.Errorf("http.listen %s, container port http %d", cfg.HTTP.Listen, port("http"))
	}
	if _, p, _ := strings.Cut(cfg.NATS.Cluster.Listen, ":"); p != fmt.Sprint(port("nats-cluster")) {
		t.Errorf("nats.cluster.listen %s, container port %d", cfg.NATS.Cluster.Listen, port("nats-cluster"))
	}
	for name, pr := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe, "startup": c.StartupProbe} {
		want := map[string]string{"readiness": "/readyz", "liveness": "/healthz", "startup": "/healthz"}[name]
		if pr == nil || pr.HTTPGet == nil || pr.HTTPGet.Path != want || pr.HTTPGet.Port.String() != "http" {
			t.Errorf("%s probe: %+v, want GET %s on port http", name, pr, want)
		}
	}

	// Stopping: preStop pause, then SIGTERM drains calls for
	// channel.drain_timeout; the grace period covers both and a margin.
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
		t.Fatal("no preStop pause")
	}
	pause := time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	grace := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
	if grace < pause+cfg.Channel.DrainTimeout+time.Minute {
		t.Errorf("terminationGracePeriodSeconds %v < preStop %v + channel.drain_timeout %v + 1m", grace, pause, cfg.Channel.DrainTimeout)
	}

	// Non-root, read-only root, every mount backed by a volume or claim.
	if sc := pod.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
		t.Error("pod not forced non-root")
	}
	if sc := c.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("container root filesystem writable or privilege escalation allowed")
	}
	vols := map[string]bool{}
	for _, v := range pod.Volumes {
		vols[v.Name] = true
	}
	for _, v := range sts.Spec.VolumeClaimTemplates {
		vols[v.Name] = true
	}
	for _, m := range c.VolumeMounts {
		if !vols[m.Name] {
			t.Errorf("mount %s: no volume %q", m.MountPath, m.Name)
		}
	}
	stateDir := filepath.Dir(cfg.NATS.EmbeddedDir)
	if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == stateDir }) {
		t.Errorf("nats.embedded_dir %s is not on a mounted volume", cfg.NATS.EmbeddedDir)
	}

	// Selectors: the pods are what the services and the budget select.
	podLabels := labels.Set(sts.Spec.Template.Labels)
	sel, err := metav1.LabelSelectorAsSelector(sts.Spec.Selector)
	if err != nil || !sel.Matches(podLabels) {
		t.Errorf("StatefulSet selector does not match its pods: %v", err)
	}
	for name, svc := range o.services {
		if !labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels) {
			t.Errorf("service %s selects no faxd pod", name)
		}
	}
	pdb := o.pdbs["faxd"]
	if pdb == nil {
		t.Fatal("no PodDisruptionBudget faxd")
	}
	psel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	if err != nil || !psel.Matches(podLabels) {
		t.Errorf("PodDisruptionBudget selects no faxd pod: %v", err)
	}
	// One pod down at a time keeps a majority of the stream's replicas.
	if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 {
		t.Errorf("PodDisruptionBudget maxUnavailable %v, want 1", pdb.Spec.MaxUnavailable)
	}
}
