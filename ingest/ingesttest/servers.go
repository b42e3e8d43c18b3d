package ingesttest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// InCI reports whether the tests run in CI, where a missing server is a failure.
func InCI() bool { return os.Getenv("CI") == "true" }

// Need finds an executable for a server the test needs. Locally the test is skipped when
// it is missing; under CI=true the test fails.
func Need(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		if p := filepath.Join(dir, name); isExec(p) {
			return p
		}
	}
	if InCI() {
		t.Fatalf("%s is not installed; .ci/run must install it", name)
	}
	logSkip(t, name)
	t.Skipf("%s is not installed; skipping (CI=true makes this a failure)", name)
	return ""
}

// logSkip appends "<package> <test>: <tool> not installed" to the file named by
// INGESTTEST_SKIP_LOG, when set, so scripts/test can sum up what a local run skipped.
func logSkip(t testing.TB, name string) {
	p := os.Getenv("INGESTTEST_SKIP_LOG")
	if p == "" {
		return
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Logf("INGESTTEST_SKIP_LOG: %v", err)
		return
	}
	defer f.Close()
	// One write per line: O_APPEND keeps lines of parallel test binaries whole.
	if _, err := fmt.Fprintf(f, "%s %s: %s not installed\n", testPackage(), t.Name(), name); err != nil {
		t.Logf("INGESTTEST_SKIP_LOG: %v", err)
	}
}

// testPackage is the import path of the package under test: a test binary runs in its
// package's directory, so it is the module path of the nearest go.mod plus the way down.
func testPackage() string {
	wd, err := os.Getwd()
	if err != nil {
		return "?"
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if mod, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
					rel, err := filepath.Rel(dir, wd)
					if err != nil || rel == "." {
						return strings.TrimSpace(mod)
					}
					return strings.TrimSpace(mod) + "/" + filepath.ToSlash(rel)
				}
			}
			break
		}
		if filepath.Dir(dir) == dir {
			break
		}
	}
	return filepath.Base(wd)
}

func isExec(p string) bool {
	info, err := os.Stat(p)
	return err == nil && info.Mode()&0o111 != 0
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// WaitPort waits until addr accepts TCP connections.
func WaitPort(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not listening after %v: %w", addr, timeout, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// Process is a server process the test started. It can be stopped and started again
// with the same arguments (for outage tests).
type Process struct {
	t    testing.TB
	name string
	args []string
	env  []string
	addr string
	log  *bytes.Buffer

	mu  sync.Mutex
	cmd *exec.Cmd
}

// StartProcess starts a server and waits until it listens on addr. It is stopped when the
// test ends.
func StartProcess(t testing.TB, addr string, env []string, name string, args ...string) *Process {
	t.Helper()
	p := &Process{t: t, name: name, args: args, env: env, addr: addr, log: &bytes.Buffer{}}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop() })
	return p
}

// Start starts the process (again).
func (p *Process) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	cmd := exec.Command(p.name, p.args...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = p.log, p.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", filepath.Base(p.name), err)
	}
	p.cmd = cmd
	if p.addr != "" {
		if err := WaitPort(p.addr, 20*time.Second); err != nil {
			return fmt.Errorf("%s: %w\n%s", filepath.Base(p.name), err, p.log.String())
		}
	}
	return nil
}

// Stop kills the process group and waits for it.
func (p *Process) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	p.cmd.Wait()
	p.cmd = nil
	if p.addr != "" {
		// Wait until the port is closed, so a restart can bind it.
		for i := 0; i < 100; i++ {
			c, err := net.DialTimeout("tcp", p.addr, 50*time.Millisecond)
			if err != nil {
				break
			}
			c.Close()
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// Log returns what the process wrote.
func (p *Process) Log() string { return p.log.String() }

// TestCA is a throwaway certificate authority with one server certificate for 127.0.0.1
// and localhost.
type TestCA struct {
	CertFile, KeyFile, CAFile string
	Pool                      *x509.CertPool
}

// NewTestCA writes a CA and a server certificate into dir.
func NewTestCA(t testing.TB, dir string) *TestCA {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Instroom Test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	ca := &TestCA{CertFile: filepath.Join(dir, "server.crt"), KeyFile: filepath.Join(dir, "server.key"), CAFile: filepath.Join(dir, "ca.crt"), Pool: x509.NewCertPool()}
	write := func(path, typ string, b []byte) {
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(ca.CertFile, "CERTIFICATE", der)
	write(ca.KeyFile, "EC PRIVATE KEY", keyDER)
	write(ca.CAFile, "CERTIFICATE", caDER)
	ca.Pool.AddCert(caCert)
	return ca
}

// ClientTLS returns a client configuration that trusts the CA.
func ClientTLS(ca *TestCA) *tls.Config {
	return &tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS12}
}

// ServerTLS returns a tls.Config serving the CA's server certificate.
func (ca *TestCA) ServerTLS(t testing.TB) *tls.Config {
	cert, err := tls.LoadX509KeyPair(ca.CertFile, ca.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}}
}

// S3Server is a versitygw S3 gateway on a posix directory.
type S3Server struct {
	*Process
	Endpoint  string // host:port
	AccessKey string
	SecretKey string
	Dir       string
}

// StartS3 starts versitygw with a posix backend in a temporary directory. With ca, it
// serves TLS with the CA's server certificate. INGESTTEST_S3_KEEPALIVE=1 keeps HTTP
// connections open (versitygw --keep-alive), for benchmarks of a keep-alive server.
func StartS3(t testing.TB, ca *TestCA) *S3Server {
	t.Helper()
	bin := Need(t, "versitygw")
	dir := t.TempDir()
	port := FreePort(t)
	s := &S3Server{Endpoint: fmt.Sprintf("127.0.0.1:%d", port), AccessKey: "instroomtest", SecretKey: "instroomtestsecret", Dir: dir}
	args := []string{"--access", s.AccessKey, "--secret", s.SecretKey, "--port", s.Endpoint}
	if ca != nil {
		args = append(args, "--cert", ca.CertFile, "--key", ca.KeyFile)
	}
	if os.Getenv("INGESTTEST_S3_KEEPALIVE") == "1" {
		// Keep connections open as MinIO and AWS do; versitygw closes each by default.
		args = append(args, "--keep-alive")
	}
	args = append(args, "posix", dir) // metadata in extended attributes
	s.Process = StartProcess(t, s.Endpoint, nil, bin, args...)
	return s
}

// CreateBucket creates a bucket (a directory of the posix backend).
func (s *S3Server) CreateBucket(t testing.TB, name string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(s.Dir, name), 0o755); err != nil {
		t.Fatal(err)
	}
}

// Kafka is a kfake broker process.
type Kafka struct {
	*Process
	Addr string
}

var kfakeOnce sync.Once
var kfakeBin string
var kfakeErr error

// kfakeBinary returns the broker binary. In CI it is the instroom-kfake that .ci/run built
// from this checkout; elsewhere it is built from scripts/kfake once per test process (the
// Go build cache makes that quick), so a stale installed copy is never used.
func kfakeBinary(t testing.TB) string {
	t.Helper()
	if InCI() {
		if p, err := exec.LookPath("instroom-kfake"); err == nil {
			return p
		}
	}
	kfakeOnce.Do(func() {
		src, err := repoDir("scripts/kfake")
		if err != nil {
			kfakeErr = err
			return
		}
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		kfakeBin = filepath.Join(cache, "instroom-test", "instroom-kfake")
		cmd := exec.Command("go", "build", "-o", kfakeBin, ".")
		cmd.Dir = src
		if out, err := cmd.CombinedOutput(); err != nil {
			kfakeErr = fmt.Errorf("building kfake: %v\n%s", err, out)
		}
	})
	if kfakeErr != nil {
		if InCI() {
			t.Fatal(kfakeErr)
		}
		t.Skip(kfakeErr)
	}
	return kfakeBin
}

// KafkaOptions configure the broker.
type KafkaOptions struct {
	Topics   []string
	SASLUser string
	SASLPass string
	// DataDir keeps the broker's data across a Stop and Start.
	DataDir string
	// CA makes the broker serve TLS with the CA's server certificate.
	CA *TestCA
	// Partitions of each topic (default 3).
	Partitions int
}

// StartKafka starts a kfake broker as its own process.
func StartKafka(t testing.TB, opts KafkaOptions) *Kafka {
	t.Helper()
	bin := kfakeBinary(t)
	port := FreePort(t)
	k := &Kafka{Addr: fmt.Sprintf("127.0.0.1:%d", port)}
	args := []string{"-port", fmt.Sprint(port)}
	if len(opts.Topics) > 0 {
		args = append(args, "-topics", strings.Join(opts.Topics, ","))
	}
	if opts.Partitions > 0 {
		args = append(args, "-partitions", fmt.Sprint(opts.Partitions))
	}
	if opts.SASLUser != "" {
		args = append(args, "-sasl-user", opts.SASLUser, "-sasl-pass", opts.SASLPass)
	}
	if opts.DataDir != "" {
		args = append(args, "-data-dir", opts.DataDir)
	}
	if opts.CA != nil {
		args = append(args, "-tls-cert", opts.CA.CertFile, "-tls-key", opts.CA.KeyFile)
	}
	k.Process = StartProcess(t, k.Addr, nil, bin, args...)
	return k
}
