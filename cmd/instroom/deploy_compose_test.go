package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// composeFile is the part of a Compose file the checks read. The deploy files use the
// short syntax for ports, volumes and secrets and lists for commands.
type composeFile struct {
	Services map[string]*composeService `yaml:"services"`
	Secrets  map[string]struct {
		File string `yaml:"file"`
	} `yaml:"secrets"`
	Volumes map[string]any `yaml:"volumes"`
}

type composeService struct {
	Build       any               `yaml:"build"`
	User        string            `yaml:"user"`
	Command     []string          `yaml:"command"`
	Entrypoint  []string          `yaml:"entrypoint"`
	Environment map[string]string `yaml:"environment"`
	Ports       []string          `yaml:"ports"`
	Expose      []string          `yaml:"expose"`
	Volumes     []string          `yaml:"volumes"`
	Secrets     []string          `yaml:"secrets"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
}

// script is the service's entrypoint and command as one text.
func (s *composeService) script() string {
	return strings.Join(append(slices.Clone(s.Entrypoint), s.Command...), " ")
}

// containerPorts lists the container side of ports and expose.
func (s *composeService) containerPorts() []string {
	out := slices.Clone(s.Expose)
	for _, p := range s.Ports {
		parts := strings.Split(p, ":")
		out = append(out, strings.TrimSuffix(parts[len(parts)-1], "/tcp"))
	}
	return out
}

// mountAt returns the source of the volume mounted at target, or "".
func (s *composeService) mountAt(target string) string {
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && parts[1] == target {
			return parts[0]
		}
	}
	return ""
}

// composeDemo is deploy/compose.yaml and the files it names.
type composeDemo struct {
	dir   string // deploy/, against which the file's relative paths resolve
	file  composeFile
	img   image
	files map[string][]byte // contents replacing files below dir (to break one)
}

func loadCompose(t *testing.T, img image) *composeDemo {
	t.Helper()
	d := &composeDemo{dir: "../../deploy", img: img, files: map[string][]byte{}}
	b, err := os.ReadFile(filepath.Join(d.dir, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &d.file); err != nil {
		t.Fatalf("deploy/compose.yaml: %v", err)
	}
	return d
}

func (d *composeDemo) read(rel string) ([]byte, error) {
	if b, ok := d.files[filepath.Clean(rel)]; ok {
		return b, nil
	}
	return os.ReadFile(filepath.Join(d.dir, rel))
}

// TestDeployCompose checks deploy/compose.yaml (see deploy_test.go).
func TestDeployCompose(t *testing.T) {
	d := loadCompose(t, readImage(t))
	for _, p := range d.check(t.TempDir()) {
		t.Error(p)
	}
}

// check returns what is wrong with the demo; root is a scratch directory.
func (d *composeDemo) check(root string) []string {
	var p problems
	name, svc := d.instroom(&p)
	if svc == nil {
		return p
	}
	d.checkImageUse(&p, name, svc)
	rc := d.resolve(&p, root, name, svc)
	if rc == nil {
		return p
	}
	want := rc.listenPorts()
	for role, port := range want {
		if !slices.Contains(svc.containerPorts(), port) {
			p.add("service %s: the %s port %s (%s.listen) is not published", name, role, port, role)
		}
	}
	for _, cp := range svc.containerPorts() {
		if !slices.Contains([]string{want["ops"], want["intake"]}, cp) {
			p.add("service %s publishes port %s, which is neither ops.listen nor intake.listen", name, cp)
		}
	}
	reach := d.dependencies(name)
	d.checkS3(&p, rc, reach)
	d.checkKafka(&p, rc, reach)
	d.checkIMAP(&p, rc, reach)
	return p
}

// instroom finds the service built from the repository's Dockerfile.
func (d *composeDemo) instroom(p *problems) (string, *composeService) {
	var found []string
	for name, s := range d.file.Services {
		ctx, _ := s.Build.(string)
		if m, ok := s.Build.(map[string]any); ok {
			ctx, _ = m["context"].(string)
		}
		if ctx == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(d.dir, ctx, "Dockerfile")); err == nil && filepath.Clean(filepath.Join(d.dir, ctx)) == filepath.Clean("../..") {
			found = append(found, name)
		}
	}
	if len(found) != 1 {
		p.add("want exactly one service built from the repository root (build: ..), found %q", found)
		return "", nil
	}
	return found[0], d.file.Services[found[0]]
}

// checkImageUse: the service runs the image as its Dockerfile says.
func (d *composeDemo) checkImageUse(p *problems, name string, s *composeService) {
	if s.User != "" && s.User != strings.Join([]string{itoa(d.img.uid), itoa(d.img.gid)}, ":") && s.User != itoa(d.img.uid) {
		p.add("service %s: user %q is not the image's user %d:%d (the data volume belongs to it)", name, s.User, d.img.uid, d.img.gid)
	}
	if len(s.Entrypoint) > 0 {
		p.add("service %s: entrypoint %q replaces the image's, so instroom would not be PID 1", name, s.Entrypoint)
	}
	if s.Command != nil && !slices.Equal(s.Command, d.img.cmd) {
		p.add("service %s: command %q differs from the image's %q", name, s.Command, d.img.cmd)
	}
	if vol := s.mountAt(d.dataDir(s)); vol == "" || d.file.Volumes == nil || !hasKey(d.file.Volumes, vol) {
		p.add("service %s: no named volume at data_dir %s (got %q)", name, d.dataDir(s), vol)
	}
}

func (d *composeDemo) dataDir(s *composeService) string {
	if v := s.Environment["INSTROOM_DATA_DIR"]; v != "" {
		return v
	}
	return d.img.env["INSTROOM_DATA_DIR"]
}

// resolve materialises the configuration and the secrets the service mounts and runs
// check-config with its environment.
func (d *composeDemo) resolve(p *problems, root, name string, s *composeService) *resolvedConfig {
	src := s.mountAt(d.img.configPath)
	if src == "" {
		p.add("service %s: nothing is mounted at %s, the configuration of the image's default command", name, d.img.configPath)
		return nil
	}
	cfg, err := d.read(src)
	if err != nil {
		p.add("service %s: configuration %s: %v", name, src, err)
		return nil
	}
	fs := &containerFS{root: root}
	fs.mount("/run/secrets")
	for _, sec := range s.Secrets {
		def, ok := d.file.Secrets[sec]
		if !ok {
			p.add("service %s: secret %s is not defined under secrets:", name, sec)
			continue
		}
		b, err := d.read(def.File)
		if err != nil || len(bytes.TrimSpace(b)) == 0 {
			p.add("secret %s: file %s is missing or empty", sec, def.File)
		}
		if err := fs.put("/run/secrets/"+sec, b); err != nil {
			p.add("secret %s: %v", sec, err)
		}
	}
	env := map[string]string{}
	for k, v := range d.img.env {
		env[k] = v
	}
	for k, v := range s.Environment {
		env[k] = v
	}
	rc, err := fs.checkConfig(d.img.configPath, cfg, env)
	if err != nil {
		p.add("service %s: %s with its environment and secrets: %v", name, src, err)
		return nil
	}
	return rc
}

// dependencies returns every service the named one waits for, directly or not, with the
// condition it waits for.
func (d *composeDemo) dependencies(name string) map[string]string {
	reach := map[string]string{}
	queue := []string{name}
	for len(queue) > 0 {
		s := d.file.Services[queue[0]]
		queue = queue[1:]
		if s == nil {
			continue
		}
		for dep, c := range s.DependsOn {
			if _, seen := reach[dep]; !seen {
				reach[dep] = c.Condition
				queue = append(queue, dep)
			}
		}
	}
	return reach
}

// server checks that the configuration's address host:port names a service that listens
// on that port and that Instroom waits for until it is healthy.
func (d *composeDemo) server(p *problems, what, addr string, reach map[string]string) *composeService {
	host, prt := hostPort(addr)
	s := d.file.Services[host]
	if s == nil {
		p.add("%s %s: no service %q", what, addr, host)
		return nil
	}
	if !slices.Contains(s.containerPorts(), prt) {
		p.add("%s %s: service %s does not expose port %s", what, addr, host, prt)
	}
	if reach[host] != "service_healthy" || s.Healthcheck == nil || len(s.Healthcheck.Test) == 0 {
		p.add("%s %s: instroom does not wait until service %s is healthy (depends_on condition %q, healthcheck %v)", what, addr, host, reach[host], s.Healthcheck != nil)
	}
	return s
}

// job finds the service Instroom waits for to complete whose script contains all of want.
func (d *composeDemo) job(reach map[string]string, want ...string) *composeService {
	for name, cond := range reach {
		s := d.file.Services[name]
		if s == nil || cond != "service_completed_successfully" {
			continue
		}
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(s.script(), w)
		}
		if ok {
			return s
		}
	}
	return nil
}

func hostPort(addr string) (string, string) {
	i := strings.LastIndex(addr, ":")
	if i < 0 {
		return addr, ""
	}
	return addr[:i], addr[i+1:]
}

func hasKey(m map[string]any, k string) bool { _, ok := m[k]; return ok }

func itoa(n int) string { return strconv.Itoa(n) }

// TestDeployComposeSchema validates deploy/compose.yaml against the Compose
// Specification's JSON Schema (testdata/compose-spec.json, from
// github.com/compose-spec/compose-spec schema/compose-spec.json at commit 170098ba,
// Apache-2.0).
func TestDeployComposeSchema(t *testing.T) {
	b, err := os.ReadFile("../../deploy/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := validateCompose(b); err != nil {
		t.Errorf("deploy/compose.yaml: %v", err)
	}
	broken := bytes.Replace(b, []byte("condition: service_healthy"), []byte("condition: service_ready"), 1)
	if validateCompose(broken) == nil {
		t.Error("the schema accepts depends_on condition service_ready")
	}
}

func validateCompose(b []byte) error {
	var doc any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return err
	}
	// Through JSON, so the validator sees JSON types (numbers, string keys).
	j, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		return err
	}
	f, err := os.Open("testdata/compose-spec.json")
	if err != nil {
		return err
	}
	defer f.Close()
	schema, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		return err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	if err := c.AddResource("compose-spec.json", schema); err != nil {
		return err
	}
	sch, err := c.Compile("compose-spec.json")
	if err != nil {
		return err
	}
	return sch.Validate(inst)
}

var dovecotIMAPPort = regexp.MustCompile(`(?s)inet_listener imap \{[^}]*port = (\d+)`)
