package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// The servers of the compose demo, each checked against what the Instroom configuration
// says about it: the service exists and listens where the configuration connects, and what
// Instroom needs on it at start (bucket, topics, user) is created before Instroom starts.

// checkS3: every S3 endpoint is a MinIO service started on that port, with the bucket
// created by a job Instroom waits for and root credentials from the secrets Instroom uses.
func (d *composeDemo) checkS3(p *problems, rc *resolvedConfig, reach map[string]string) {
	for _, s3 := range rc.s3Configs() {
		svc := d.server(p, "S3 endpoint", s3.Endpoint, reach)
		if svc == nil {
			continue
		}
		_, prt := hostPort(s3.Endpoint)
		if i := slices.Index(svc.Command, "--address"); i < 0 || i+1 >= len(svc.Command) || !strings.HasSuffix(svc.Command[i+1], ":"+prt) {
			p.add("S3 endpoint %s: MinIO is not started with --address :%s (command %q)", s3.Endpoint, prt, svc.Command)
		}
		if d.job(reach, "http://"+s3.Endpoint, " mb ", "/"+s3.Bucket) == nil {
			p.add("S3 bucket %s: no job that creates it on http://%s and that instroom waits for", s3.Bucket, s3.Endpoint)
		}
		creds := []struct{ env, file string }{{"MINIO_ROOT_USER_FILE", s3.AccessKeyFile}, {"MINIO_ROOT_PASSWORD_FILE", s3.SecretKeyFile}}
		for i, c := range creds {
			name := path.Base(c.file)
			if c.file == "" || svc.Environment[c.env] != c.file || !slices.Contains(svc.Secrets, name) {
				p.add("S3 endpoint %s: %s is %q, not the secret file %q that instroom uses", s3.Endpoint, c.env, svc.Environment[c.env], c.file)
				continue
			}
			// MinIO refuses a root user shorter than 3 and a password shorter than 8.
			b, _ := d.read(d.file.Secrets[name].File)
			if n := len(bytes.TrimSpace(b)); n < []int{3, 8}[i] {
				p.add("secret %s: %d characters is too short for MinIO's %s", name, n, c.env)
			}
		}
	}
}

// checkKafka: every broker is a Kafka service advertising that address, the topics are
// created by a job Instroom waits for, and a service prints the klantcontacten.
func (d *composeDemo) checkKafka(p *problems, rc *resolvedConfig, reach map[string]string) {
	k := rc.Storage.Events.Kafka
	if rc.Storage.Events.Type != "kafka" || k == nil || len(k.Brokers) == 0 {
		p.add("the demo publishes to Kafka, but storage.events.type is %q", rc.Storage.Events.Type)
		return
	}
	for _, b := range k.Brokers {
		svc := d.server(p, "Kafka broker", b, reach)
		if svc == nil {
			continue
		}
		if !slices.Contains(strings.Split(svc.Environment["KAFKA_ADVERTISED_LISTENERS"], ","), "PLAINTEXT://"+b) {
			p.add("Kafka broker %s: KAFKA_ADVERTISED_LISTENERS %q does not advertise it", b, svc.Environment["KAFKA_ADVERTISED_LISTENERS"])
		}
		if _, prt := hostPort(b); !strings.Contains(svc.Environment["KAFKA_LISTENERS"], ":"+prt+",") && !strings.HasSuffix(svc.Environment["KAFKA_LISTENERS"], ":"+prt) {
			p.add("Kafka broker %s: KAFKA_LISTENERS %q does not listen on port %s", b, svc.Environment["KAFKA_LISTENERS"], prt)
		}
	}
	topics := rc.Storage.Events.Topics
	job := d.job(reach, "--bootstrap-server "+k.Brokers[0], "--create")
	if job == nil {
		p.add("Kafka topics: no job that creates them on %s and that instroom waits for", k.Brokers[0])
	} else {
		for _, role := range []string{"klantcontacten", "internetaken", "deadletter"} {
			if !slices.Contains(strings.Fields(job.Environment["TOPICS"]), topics[role]) {
				p.add("Kafka topic %s (storage.events.topics.%s) is not in the topic job's TOPICS %q", topics[role], role, job.Environment["TOPICS"])
			}
		}
	}
	for _, s := range d.file.Services {
		e := s.Entrypoint
		if i := slices.Index(e, "--topic"); i >= 0 && i+1 < len(e) && e[i+1] == topics["klantcontacten"] {
			if j := slices.Index(e, "--bootstrap-server"); j >= 0 && j+1 < len(e) && slices.Contains(k.Brokers, e[j+1]) {
				return
			}
		}
	}
	p.add("no service prints the topic %s from %s: the newcomer sees no contact arrive", topics["klantcontacten"], k.Brokers)
}

// checkIMAP: every IMAP account is the demo user of a Dovecot service listening on that
// port, logging in with the same secret, with demo mails that Instroom can read.
func (d *composeDemo) checkIMAP(p *problems, rc *resolvedConfig, reach map[string]string) {
	n := 0
	for _, s := range rc.Sources {
		if s.Type != "imap" || s.IMAP == nil {
			continue
		}
		n++
		svc := d.server(p, "IMAP server", s.IMAP.Address, reach)
		if svc == nil {
			continue
		}
		_, prt := hostPort(s.IMAP.Address)
		conf, err := d.read(svc.mountAt("/etc/dovecot/dovecot.conf"))
		if m := dovecotIMAPPort.FindSubmatch(conf); err != nil || m == nil || string(m[1]) != prt {
			p.add("IMAP server %s: the dovecot.conf it mounts has no inet_listener imap on port %s (%v)", s.IMAP.Address, prt, err)
		}
		if u := svc.Environment["DEMO_USER"]; u != s.IMAP.Username {
			p.add("IMAP server %s: the demo user is %q, instroom logs in as %q", s.IMAP.Address, u, s.IMAP.Username)
		}
		if f := s.IMAP.PasswordFile; path.Dir(f) != "/run/secrets" || !slices.Contains(svc.Secrets, path.Base(f)) {
			p.add("IMAP server %s: does not get the secret %s that instroom logs in with", s.IMAP.Address, f)
		}
		d.checkSeedMails(p, svc.mountAt("/demo/mail"))
	}
	if n == 0 {
		p.add("the demo reads no IMAP mailbox")
	}
}

// checkSeedMails: the demo mailbox starts with mails that Instroom registers.
func (d *composeDemo) checkSeedMails(p *problems, dir string) {
	mails, _ := filepath.Glob(filepath.Join(d.dir, dir, "*.eml"))
	if dir == "" || len(mails) == 0 {
		p.add("demo mails: no .eml files in %q, mounted at /demo/mail", dir)
	}
	for _, m := range mails {
		var errb bytes.Buffer
		if code := run(context.Background(), []string{"inspect", m}, io.Discard, &errb, nil); code != 0 {
			p.add("demo mail %s: inspect exit %d: %s", filepath.Base(m), code, errb.String())
		}
	}
}

// seedMails returns the demo mails of the compose demo.
func seedMails(d *composeDemo) ([][]byte, error) {
	files, err := filepath.Glob(filepath.Join(d.dir, svc0(d, "dovecot").mountAt("/demo/mail"), "*.eml"))
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}
