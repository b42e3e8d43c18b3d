package main

import (
	"encoding/json"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// No Docker engine runs here, so TestDockerfile checks what it can of the image without
// building it: the user, the entrypoint, the data directory, the exposed ops port and
// the build context.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	// The last stage is the runtime image.
	runtime := df[strings.LastIndex(df, "\nFROM "):]
	instr := func(name string) []string {
		var out []string
		for _, m := range regexp.MustCompile(`(?m)^`+name+` +(.+)$`).FindAllStringSubmatch(runtime, -1) {
			out = append(out, strings.TrimSpace(m[1]))
		}
		return out
	}

	users := instr("USER")
	if len(users) != 1 {
		t.Fatalf("Dockerfile runtime stage has USER %q, want exactly one", users)
	}
	uid, gid, _ := strings.Cut(users[0], ":")
	if m := regexp.MustCompile(`groupadd [^\n]*--gid (\d+)`).FindStringSubmatch(runtime); m == nil || m[1] != gid {
		t.Errorf("Dockerfile USER %s: no group created with gid %s (groupadd %v)", users[0], gid, m)
	}
	if m := regexp.MustCompile(`useradd [^\n]*--uid (\d+) --gid (\d+)`).FindStringSubmatch(runtime); m == nil || m[1] != uid || m[2] != gid {
		t.Errorf("Dockerfile USER %s: no user created with uid %s in group %s (useradd %v)", users[0], uid, gid, m)
	}

	entry := instr("ENTRYPOINT")
	var argv []string
	if len(entry) != 1 || json.Unmarshal([]byte(entry[0]), &argv) != nil || len(argv) == 0 {
		t.Errorf("Dockerfile ENTRYPOINT = %q, want one in exec form (a JSON list) so SIGTERM reaches instroom", entry)
	}

	if !regexp.MustCompile(`(?m)^\s*(ENV .*)?INSTROOM_DATA_DIR=/var/lib/instroom\b`).MatchString(runtime) {
		t.Error("Dockerfile does not set INSTROOM_DATA_DIR=/var/lib/instroom")
	}
	if vols := instr("VOLUME"); len(vols) != 1 || !strings.Contains(vols[0], "/var/lib/instroom") {
		t.Errorf("Dockerfile VOLUME = %q, want /var/lib/instroom", vols)
	}

	// EXPOSE lists the ops port of the production example.
	pb, err := os.ReadFile("../../examples/production.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var prod struct {
		Ops struct {
			Listen string `yaml:"listen"`
		} `yaml:"ops"`
	}
	if err := yaml.Unmarshal(pb, &prod); err != nil {
		t.Fatal(err)
	}
	_, opsPort, err := net.SplitHostPort(prod.Ops.Listen)
	if err != nil {
		t.Fatalf("examples/production.yaml ops.listen %q: %v", prod.Ops.Listen, err)
	}
	exposed := strings.Fields(strings.Join(instr("EXPOSE"), " "))
	found := false
	for _, p := range exposed {
		found = found || strings.TrimSuffix(p, "/tcp") == opsPort
	}
	if !found {
		t.Errorf("Dockerfile EXPOSE %q does not list the ops port %s of examples/production.yaml", exposed, opsPort)
	}

	ib, err := os.ReadFile("../../.dockerignore")
	if err != nil {
		t.Fatalf("no .dockerignore: %v", err)
	}
	ignored := map[string]bool{}
	for _, line := range strings.Split(string(ib), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			ignored[strings.TrimSuffix(strings.TrimPrefix(line, "/"), "/")] = true
		}
	}
	for _, want := range []string{".git", "data", "**/data", "examples/data", "*.test", "bin", "instroom"} {
		if !ignored[want] {
			t.Errorf(".dockerignore does not exclude %s", want)
		}
	}
	for _, need := range []string{"go.mod", "go.sum", "cmd", "*.go", "*.json", "*.yaml"} {
		if ignored[need] {
			t.Errorf(".dockerignore excludes %s, which the build needs", need)
		}
	}
}
