package main

import (
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// checkImageUse: the container runs the image's own command as PID 1 (so that SIGTERM
// and `kill -HUP 1` reach instroom), as the image's user, with a read-only root.
func (k *k8sExample) checkImageUse(p *problems, pod *k8sPodSpec, c *k8sContainer) {
	if len(c.Command) > 0 {
		p.add("container command %q replaces the image's entrypoint: instroom would not be PID 1", c.Command)
	}
	if c.Args != nil && !slices.Equal(c.Args, k.img.cmd) {
		p.add("container args %q differ from the image's command %q", c.Args, k.img.cmd)
	}
	if pod.ShareProcessNamespace {
		p.add("shareProcessNamespace: PID 1 would be the pause process, not instroom (kill -HUP 1)")
	}
	sc := pod.SecurityContext
	if sc.RunAsUser != k.img.uid || sc.RunAsGroup != k.img.gid || !sc.RunAsNonRoot {
		p.add("pod runs as %d:%d (runAsNonRoot %v), not as the image's user %d:%d", sc.RunAsUser, sc.RunAsGroup, sc.RunAsNonRoot, k.img.uid, k.img.gid)
	}
	if sc.FSGroup != k.img.gid {
		p.add("pod fsGroup %d is not the image's group %d: the mounted secrets would not be readable", sc.FSGroup, k.img.gid)
	}
	if u := c.SecurityContext.RunAsUser; u != nil && *u != k.img.uid {
		p.add("container runs as user %d, not as the image's user %d", *u, k.img.uid)
	}
	if !c.SecurityContext.ReadOnlyRootFilesystem {
		p.add("container readOnlyRootFilesystem is not set")
	}
	if e := c.SecurityContext.AllowPrivilegeEscalation; e == nil || *e {
		p.add("container allowPrivilegeEscalation is not false")
	}
}

// resolve materialises what the container mounts (the ConfigMap with the configuration,
// the Secret's keys with their placeholder values) and runs check-config with the
// container's environment.
func (k *k8sExample) resolve(p *problems, root string, pod *k8sPodSpec, c *k8sContainer) *resolvedConfig {
	fs := &containerFS{root: root}
	cfg, writable := k.mountVolumes(p, fs, pod, c)
	if cfg == nil {
		p.add("no ConfigMap key is mounted at %s, the configuration of the image's default command", k.img.configPath)
		return nil
	}
	env := map[string]string{}
	for name, v := range k.img.env {
		env[name] = v
	}
	for _, e := range c.Env {
		switch {
		case strings.HasPrefix(e.Name, "INSTROOM_") && e.Value == nil:
			p.add("env %s: give INSTROOM_ variables by value; secrets belong in the mounted Secret (*_file keys)", e.Name)
		case e.Value != nil:
			env[e.Name] = *e.Value
		}
	}
	if dd := env["INSTROOM_DATA_DIR"]; !writable[dd] {
		p.add("data_dir %s is not a writable emptyDir or persistentVolumeClaim (the root filesystem is read-only)", dd)
	}
	rc, err := fs.checkConfig(k.img.configPath, cfg, env)
	if err != nil {
		p.add("the ConfigMap's %s with the container's environment and Secret: %v", k.img.configPath, err)
		return nil
	}
	return rc
}

// mountVolumes puts the files of the ConfigMap and Secret volumes where the container
// sees them and returns the configuration file's content and the writable mount paths.
func (k *k8sExample) mountVolumes(p *problems, fs *containerFS, pod *k8sPodSpec, c *k8sContainer) ([]byte, map[string]bool) {
	vols := map[string]*k8sVolume{}
	for i := range pod.Volumes {
		vols[pod.Volumes[i].Name] = &pod.Volumes[i]
	}
	var cfg []byte
	writable := map[string]bool{}
	for _, m := range c.VolumeMounts {
		v := vols[m.Name]
		var data map[string]string
		var items []k8sKeyPath
		switch {
		case v == nil:
			p.add("volumeMount %s: no such volume", m.Name)
			continue
		case v.EmptyDir != nil || v.PersistentVolumeClaim != nil:
			writable[m.MountPath] = !m.ReadOnly
			continue
		case v.ConfigMap != nil:
			if cm := k.configMaps[v.ConfigMap.Name]; cm != nil {
				data = cm.Data
			}
			items = v.ConfigMap.Items
		case v.Secret != nil:
			if s := k.secrets[v.Secret.SecretName]; s != nil {
				data = s.StringData
			}
			items = v.Secret.Items
		}
		if data == nil {
			p.add("volume %s: its ConfigMap or Secret is not in the example", m.Name)
			continue
		}
		if m.SubPath != "" {
			p.add("volumeMount %s uses subPath: the kubelet never updates such a file, so a reload (SIGHUP) would read the old one", m.Name)
		}
		fs.mount(m.MountPath)
		for _, it := range projected(data, items) {
			val, ok := data[it.Key]
			if !ok {
				p.add("volume %s: key %s is not in its ConfigMap or Secret", m.Name, it.Key)
			}
			if full := m.MountPath + "/" + it.Path; full == k.img.configPath {
				cfg = []byte(val)
			} else if err := fs.put(full, []byte(val)); err != nil {
				p.add("%s: %v", full, err)
			}
		}
	}
	return cfg, writable
}

// projected lists the files a ConfigMap or Secret volume holds: its items, or every key.
func projected(data map[string]string, items []k8sKeyPath) []k8sKeyPath {
	if len(items) > 0 {
		return items
	}
	var out []k8sKeyPath
	for key := range data {
		out = append(out, k8sKeyPath{Key: key, Path: key})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// checkPorts: the container ports are the configuration's listeners, the probes ask the
// ops port for /healthz and /readyz, and Prometheus is told to scrape the ops port's
// /metrics.
func (k *k8sExample) checkPorts(p *problems, d *k8sDeployment, c *k8sContainer, rc *resolvedConfig) {
	named := map[string]string{}
	for _, cp := range c.Ports {
		named[cp.Name] = strconv.Itoa(cp.ContainerPort)
	}
	want := rc.listenPorts()
	for role, prt := range want {
		if named[role] != prt {
			p.add("container port %q is %q, but %s.listen is on port %s", role, named[role], role, prt)
		}
	}
	for name, prt := range named {
		if want[name] != prt {
			p.add("container port %s (%s) is no listener of the configuration", name, prt)
		}
	}
	num := func(port string) string {
		if n, ok := named[port]; ok {
			return n
		}
		return port
	}
	for _, pr := range []struct {
		what, path string
		probe      *k8sProbe
	}{{"liveness", "/healthz", c.LivenessProbe}, {"readiness", "/readyz", c.ReadinessProbe}} {
		if pr.probe == nil || pr.probe.HTTPGet == nil {
			p.add("no %s probe (httpGet %s on the ops port)", pr.what, pr.path)
		} else if g := pr.probe.HTTPGet; g.Path != pr.path || num(g.Port) != want["ops"] {
			p.add("%s probe asks %s on port %s, want %s on the ops port %s", pr.what, g.Path, num(g.Port), pr.path, want["ops"])
		}
	}
	a := d.Spec.Template.Metadata.Annotations
	if a["prometheus.io/scrape"] != "true" || a["prometheus.io/port"] != want["ops"] || a["prometheus.io/path"] != "/metrics" {
		p.add("scrape annotations %q, want scrape true, port %s (ops) and path /metrics", a, want["ops"])
	}
	k.checkSelectors(p, d, num, want)
}

// checkSelectors: the Deployment, the Services and the PodDisruptionBudget select the
// pods, and the Services reach the listeners (num turns a port name into its number).
func (k *k8sExample) checkSelectors(p *problems, d *k8sDeployment, num func(string) string, want map[string]string) {
	labels := d.Spec.Template.Metadata.Labels
	if !selects(d.Spec.Selector.MatchLabels, labels) {
		p.add("the Deployment's selector does not select its pods")
	}
	intake := false
	for _, s := range k.services {
		if !selects(s.Spec.Selector, labels) {
			p.add("Service %s does not select the pods", s.Metadata.Name)
		}
		for _, sp := range s.Spec.Ports {
			n := num(sp.TargetPort)
			if !slices.Contains([]string{want["ops"], want["intake"]}, n) {
				p.add("Service %s port %s targets %s, no listener of the configuration", s.Metadata.Name, sp.Name, n)
			}
			intake = intake || n == want["intake"]
		}
	}
	if want["intake"] != "" && !intake {
		p.add("no Service reaches the intake API on port %s", want["intake"])
	}
	for _, b := range k.pdbs {
		if !selects(b.Spec.Selector.MatchLabels, labels) {
			p.add("PodDisruptionBudget %s does not select the pods", b.Metadata.Name)
		}
	}
}

// selects reports whether a non-empty selector matches the labels.
func selects(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return len(sel) > 0
}

// checkReplicas: several replicas need scale_out and shared drop zones, and every pod
// gets the time to drain.
func (k *k8sExample) checkReplicas(p *problems, d *k8sDeployment, rc *resolvedConfig) {
	if d.Spec.Replicas > 1 {
		if rc.ScaleOut.Group == "" {
			p.add("replicas %d without scale_out.group: every replica would read every source", d.Spec.Replicas)
		}
		for _, s := range rc.Sources {
			if s.Type == "dir" || s.Type == "maildir" {
				p.add("source %s is a local %s; with %d replicas drop zones must be shared (S3)", s.Name, s.Type, d.Spec.Replicas)
			}
		}
	}
	grace := time.Duration(d.Spec.Template.Spec.TerminationGracePeriodSeconds) * time.Second
	if grace == 0 {
		grace = 30 * time.Second // the Kubernetes default
	}
	if need := rc.drainTimeout() + 5*time.Second; grace <= need {
		p.add("terminationGracePeriodSeconds %s is not longer than shutdown.drain_timeout plus the intake API's 5 s (%s)", grace, need)
	}
}
