package main

// No Docker engine and no cluster run here, so the deploy tests keep deploy/ true by what
// can be checked without them: the configuration each deployment mounts passes
// check-config with the environment and the secret files the deployment gives it, and the
// ports, paths, user and services the files name agree with the code, the Dockerfile
// and each other. Every check reports a problem instead of failing at once, so that
// TestDeployChecksCanFail can break each one and see it reported.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// image is what the deploy files rely on from the runtime stage of the Dockerfile.
type image struct {
	uid, gid   int
	cmd        []string          // CMD, exec form
	configPath string            // the -config argument of CMD
	env        map[string]string // ENV
}

func readImage(t *testing.T) image {
	t.Helper()
	b, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := strings.ReplaceAll(string(b), "\\\n", " ")
	df = df[strings.LastIndex(df, "\nFROM "):]
	img := image{env: map[string]string{}}
	m := regexp.MustCompile(`(?m)^USER +(\d+):(\d+)\s*$`).FindStringSubmatch(df)
	if m == nil {
		t.Fatal("Dockerfile: no USER uid:gid in the runtime stage")
	}
	img.uid, _ = strconv.Atoi(m[1])
	img.gid, _ = strconv.Atoi(m[2])
	m = regexp.MustCompile(`(?m)^CMD +(\[.*\])\s*$`).FindStringSubmatch(df)
	if m == nil || json.Unmarshal([]byte(m[1]), &img.cmd) != nil {
		t.Fatal("Dockerfile: no CMD in exec form in the runtime stage")
	}
	for i, a := range img.cmd {
		if a == "-config" && i+1 < len(img.cmd) {
			img.configPath = img.cmd[i+1]
		}
	}
	if img.configPath == "" {
		t.Fatalf("Dockerfile: CMD %q gives no -config", img.cmd)
	}
	for _, m := range regexp.MustCompile(`(?m)^ENV +(.+)$`).FindAllStringSubmatch(df, -1) {
		for _, kv := range strings.Fields(m[1]) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				img.env[k] = v
			}
		}
	}
	if img.env["INSTROOM_DATA_DIR"] == "" {
		t.Fatal("Dockerfile: no ENV INSTROOM_DATA_DIR")
	}
	return img
}

// problems collects what a check found wrong.
type problems []string

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

// containerFS holds, below a temporary root, the files a container would see at the
// paths the deployment mounts them.
type containerFS struct {
	root   string
	mounts []string // container directories, each ending in "/"
}

func (c *containerFS) mount(dir string) {
	c.mounts = append(c.mounts, strings.TrimSuffix(dir, "/")+"/")
}

func (c *containerFS) put(p string, b []byte) error {
	f := filepath.Join(c.root, filepath.FromSlash(p))
	if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
		return err
	}
	return os.WriteFile(f, b, 0o644)
}

// rewrite moves every path below a mounted directory below the root.
func (c *containerFS) rewrite(s string) string {
	for _, m := range c.mounts {
		s = strings.ReplaceAll(s, m, c.root+m)
	}
	return s
}

// resolvedConfig is the part of check-config's output the deploy checks use.
type resolvedConfig struct {
	DataDir string `yaml:"data_dir"`
	Ops     struct {
		Listen string `yaml:"listen"`
	} `yaml:"ops"`
	Intake struct {
		Listen string `yaml:"listen"`
	} `yaml:"intake"`
	Sources []struct {
		Name    string    `yaml:"name"`
		Type    string    `yaml:"type"`
		Channel string    `yaml:"channel"`
		S3      *s3Config `yaml:"s3"`
		IMAP    *struct {
			Address         string `yaml:"address"`
			Username        string `yaml:"username"`
			PasswordFile    string `yaml:"password_file"`
			ProcessedFolder string `yaml:"processed_folder"`
		} `yaml:"imap"`
	} `yaml:"sources"`
	Storage struct {
		Blobs struct {
			Type string    `yaml:"type"`
			S3   *s3Config `yaml:"s3"`
		} `yaml:"blobs"`
		Events struct {
			Type   string            `yaml:"type"`
			Topics map[string]string `yaml:"topics"`
			Kafka  *struct {
				Brokers []string `yaml:"brokers"`
			} `yaml:"kafka"`
		} `yaml:"events"`
	} `yaml:"storage"`
	ScaleOut struct {
		Group string `yaml:"group"`
	} `yaml:"scale_out"`
	Shutdown struct {
		DrainTimeout string `yaml:"drain_timeout"`
	} `yaml:"shutdown"`
}

type s3Config struct {
	Endpoint      string `yaml:"endpoint"`
	Bucket        string `yaml:"bucket"`
	AccessKeyFile string `yaml:"access_key_file"`
	SecretKeyFile string `yaml:"secret_key_file"`
}

// checkConfig runs `instroom check-config` in-process on the configuration a container
// reads at configPath, with the INSTROOM_ variables of its environment (absolute paths
// moved below the root), and returns the resolved configuration with container paths.
func (c *containerFS) checkConfig(configPath string, config []byte, env map[string]string) (*resolvedConfig, error) {
	if err := c.put(configPath, []byte(c.rewrite(string(config)))); err != nil {
		return nil, err
	}
	var environ []string
	for k, v := range env {
		if !strings.HasPrefix(k, "INSTROOM_") {
			continue
		}
		if strings.HasPrefix(v, "/") {
			v = c.root + v
		}
		environ = append(environ, k+"="+v)
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"check-config", "-config", c.root + configPath}, &out, &errb, environ); code != 0 {
		return nil, fmt.Errorf("check-config exit %d: %s", code, strings.TrimSpace(strings.ReplaceAll(errb.String(), c.root, "")))
	}
	var rc resolvedConfig
	if err := yaml.Unmarshal([]byte(strings.ReplaceAll(out.String(), c.root, "")), &rc); err != nil {
		return nil, fmt.Errorf("check-config output: %w", err)
	}
	return &rc, nil
}

// port returns the port of a host:port, or "" when there is none.
func port(addr string) string {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	return p
}

// listenPorts returns the ops and intake ports of a resolved configuration, by role.
func (rc *resolvedConfig) listenPorts() map[string]string {
	out := map[string]string{}
	if rc.Ops.Listen != "" {
		out["ops"] = port(rc.Ops.Listen)
	}
	if rc.Intake.Listen != "" {
		out["intake"] = port(rc.Intake.Listen)
	}
	return out
}

// s3Configs lists the S3 connections of the configuration, each once.
func (rc *resolvedConfig) s3Configs() []*s3Config {
	all := []*s3Config{}
	if rc.Storage.Blobs.Type == "s3" && rc.Storage.Blobs.S3 != nil {
		all = append(all, rc.Storage.Blobs.S3)
	}
	for _, s := range rc.Sources {
		if s.Type == "s3" && s.S3 != nil {
			all = append(all, s.S3)
		}
	}
	var out []*s3Config
	for _, c := range all {
		if !slices.ContainsFunc(out, func(o *s3Config) bool { return *o == *c }) {
			out = append(out, c)
		}
	}
	return out
}

// drainTimeout parses shutdown.drain_timeout.
func (rc *resolvedConfig) drainTimeout() time.Duration {
	d, _ := time.ParseDuration(rc.Shutdown.DrainTimeout)
	return d
}

// TestDeployChecksCanFail breaks the deployment files one way at a time and expects the
// checks to report it, so no check passes vacuously.
func TestDeployChecksCanFail(t *testing.T) {
	img := readImage(t)
	for _, tc := range composeBreakages {
		t.Run("compose/"+tc.name, func(t *testing.T) {
			d := loadCompose(t, img)
			tc.breakIt(d)
			got := d.check(t.TempDir())
			t.Logf("problems: %q", got)
			if !anyContains(got, tc.want) {
				t.Errorf("compose with %s: problems %q, want one containing %q", tc.name, got, tc.want)
			}
		})
	}
	for _, tc := range k8sBreakages {
		t.Run("kubernetes/"+tc.name, func(t *testing.T) {
			k := loadK8s(t, img)
			tc.breakIt(k)
			got := k.check(t.TempDir())
			t.Logf("problems: %q", got)
			if !anyContains(got, tc.want) {
				t.Errorf("kubernetes with %s: problems %q, want one containing %q", tc.name, got, tc.want)
			}
		})
	}
}

func anyContains(list []string, want string) bool {
	for _, s := range list {
		if strings.Contains(s, want) {
			return true
		}
	}
	return false
}
