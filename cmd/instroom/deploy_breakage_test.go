package main

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"
)

// The ways TestDeployChecksCanFail breaks the deployment files, each with the problem the
// checks must then report.

type composeBreakage struct {
	name    string
	breakIt func(d *composeDemo)
	want    string
}

func svc(d *composeDemo, name string) *composeService { return d.file.Services[name] }

func replaceIn(list []string, old, new string) []string {
	out := slices.Clone(list)
	for i, s := range out {
		if s == old {
			out[i] = new
		}
	}
	return out
}

func editFile(d *composeDemo, rel, old, new string) {
	b, _ := d.read(rel)
	d.files[rel] = bytes.Replace(b, []byte(old), []byte(new), 1)
}

var composeBreakages = []composeBreakage{
	{"intake port not published", func(d *composeDemo) {
		svc(d, "instroom").Ports = replaceIn(svc(d, "instroom").Ports, "127.0.0.1:8080:8080", "127.0.0.1:8081:8081")
	}, "the intake port 8080"},
	{"unknown INSTROOM variable", func(d *composeDemo) { svc(d, "instroom").Environment["INSTROOM_LOG_FORMATT"] = "text" }, "names no setting"},
	{"configuration invalid", func(d *composeDemo) {
		editFile(d, "compose/instroom.yaml", "allow_plain: true # demo", "allow_plain: false # demo")
	}, "allow_plain"},
	{"configuration mounted elsewhere", func(d *composeDemo) {
		svc(d, "instroom").Volumes[0] = "./compose/instroom.yaml:/etc/instroom/config.yaml:ro"
	}, "nothing is mounted at /etc/instroom/instroom.yaml"},
	{"command differs from the image's", func(d *composeDemo) {
		svc(d, "instroom").Command = []string{"run", "-config", "/etc/instroom/config.yaml"}
	}, "differs from the image's"},
	{"entrypoint replaced", func(d *composeDemo) { svc(d, "instroom").Entrypoint = []string{"sh", "-c", "instroom run"} }, "PID 1"},
	{"another user", func(d *composeDemo) { svc(d, "instroom").User = "0" }, "is not the image's user"},
	{"no data volume", func(d *composeDemo) { svc(d, "instroom").Volumes = svc(d, "instroom").Volumes[:1] }, "no named volume at data_dir"},
	{"a secret not given", func(d *composeDemo) { svc(d, "instroom").Secrets = []string{"imap-password", "s3-access-key"} }, "secret_key_file"},
	{"no S3 service", func(d *composeDemo) { delete(d.file.Services, "minio") }, `no service "minio"`},
	{"MinIO on another port", func(d *composeDemo) {
		svc(d, "minio").Command = replaceIn(svc(d, "minio").Command, ":9000", ":9100")
	}, "MinIO is not started with --address :9000"},
	{"MinIO port not exposed", func(d *composeDemo) { svc(d, "minio").Expose = nil }, "does not expose port 9000"},
	{"another bucket created", func(d *composeDemo) {
		s := svc(d, "minio-init")
		s.Entrypoint = replaceIn(s.Entrypoint, s.Entrypoint[2], strings.Replace(s.Entrypoint[2], "demo/instroom", "demo/anders", 1))
	}, "S3 bucket instroom"},
	{"MinIO with other credentials", func(d *composeDemo) { svc(d, "minio").Environment["MINIO_ROOT_USER_FILE"] = "/run/secrets/anders" }, "MINIO_ROOT_USER_FILE"},
	{"S3 secret too short for MinIO", func(d *composeDemo) { d.files["compose/secrets/s3-secret-key"] = []byte("kort\n") }, "too short"},
	{"Kafka advertises another address", func(d *composeDemo) {
		svc(d, "kafka").Environment["KAFKA_ADVERTISED_LISTENERS"] = "PLAINTEXT://localhost:9092"
	}, "does not advertise it"},
	{"Kafka listens elsewhere", func(d *composeDemo) {
		svc(d, "kafka").Environment["KAFKA_LISTENERS"] = "PLAINTEXT://:9094,CONTROLLER://:9093"
	}, "does not listen on port 9092"},
	{"a topic not created", func(d *composeDemo) { svc(d, "kafka-init").Environment["TOPICS"] = "klantcontacten internetaken" }, "instroom.deadletter"},
	{"instroom does not wait for the topics", func(d *composeDemo) {
		svc(d, "instroom").DependsOn["kafka-init"] = struct {
			Condition string `yaml:"condition"`
		}{"service_started"}
	}, "no job that creates them"},
	{"Kafka without healthcheck", func(d *composeDemo) { svc(d, "kafka").Healthcheck = nil }, "until service kafka is healthy"},
	{"nothing prints the contacts", func(d *composeDemo) { delete(d.file.Services, "klantcontacten") }, "sees no contact arrive"},
	{"Dovecot on another port", func(d *composeDemo) { editFile(d, "compose/dovecot/dovecot.conf", "port = 143", "port = 144") }, "no inet_listener imap on port 143"},
	{"another demo user", func(d *composeDemo) { svc(d, "dovecot").Environment["DEMO_USER"] = "demo" }, "the demo user is"},
	{"Dovecot without the password", func(d *composeDemo) { svc(d, "dovecot").Secrets = nil }, "does not get the secret"},
	{"no demo mails", func(d *composeDemo) {
		svc(d, "dovecot").Volumes = replaceIn(svc(d, "dovecot").Volumes, "./compose/mail:/demo/mail:ro", "./compose/secrets:/demo/mail:ro")
	}, "no .eml files"},
}

type k8sBreakage struct {
	name    string
	breakIt func(k *k8sExample)
	want    string
}

func kpod(k *k8sExample) *k8sPodSpec { return &k.deployments[0].Spec.Template.Spec }

func kc(k *k8sExample) *k8sContainer { return &kpod(k).Containers[0] }

func editConfigMap(k *k8sExample, old, new string) {
	cm := k.configMaps["instroom-config"]
	cm.Data["instroom.yaml"] = strings.Replace(cm.Data["instroom.yaml"], old, new, 1)
}

var k8sBreakages = []k8sBreakage{
	{"liveness on another path", func(k *k8sExample) { kc(k).LivenessProbe.HTTPGet.Path = "/health" }, "liveness probe asks /health"},
	{"readiness on the intake port", func(k *k8sExample) { kc(k).ReadinessProbe.HTTPGet.Port = "intake" }, "readiness probe asks /readyz on port 8080"},
	{"no readiness probe", func(k *k8sExample) { kc(k).ReadinessProbe = nil }, "no readiness probe"},
	{"scrape another port", func(k *k8sExample) {
		k.deployments[0].Spec.Template.Metadata.Annotations["prometheus.io/port"] = "8080"
	}, "scrape annotations"},
	{"scrape another path", func(k *k8sExample) {
		k.deployments[0].Spec.Template.Metadata.Annotations["prometheus.io/path"] = "/"
	}, "scrape annotations"},
	{"container port not the listener", func(k *k8sExample) { kc(k).Ports[1].ContainerPort = 9091 }, `container port "ops" is "9091"`},
	{"listener moved", func(k *k8sExample) { editConfigMap(k, "listen: 0.0.0.0:8080", "listen: 0.0.0.0:8081") }, "intake.listen is on port 8081"},
	{"Service targets no listener", func(k *k8sExample) { k.services[0].Spec.Ports[0].TargetPort = "8081" }, "targets 8081"},
	{"Service selects nothing", func(k *k8sExample) { k.services[0].Spec.Selector = map[string]string{"app": "iets"} }, "does not select the pods"},
	{"root user", func(k *k8sExample) { kpod(k).SecurityContext.RunAsUser = 0 }, "not as the image's user"},
	{"writable root", func(k *k8sExample) { kc(k).SecurityContext.ReadOnlyRootFilesystem = false }, "readOnlyRootFilesystem"},
	{"command replaced", func(k *k8sExample) { kc(k).Command = []string{"/bin/sh", "-c", "instroom run"} }, "PID 1"},
	{"shared process namespace", func(k *k8sExample) { kpod(k).ShareProcessNamespace = true }, "pause process"},
	{"configuration by subPath", func(k *k8sExample) { kc(k).VolumeMounts[0].SubPath = "instroom.yaml" }, "subPath"},
	{"configuration mounted elsewhere", func(k *k8sExample) { kc(k).VolumeMounts[0].MountPath = "/etc/config" }, "no ConfigMap key is mounted at /etc/instroom/instroom.yaml"},
	{"a Secret key missing", func(k *k8sExample) { delete(k.secrets["instroom-secrets"].StringData, "kafka-password") }, "password_file"},
	{"unknown INSTROOM variable", func(k *k8sExample) {
		v := "debug"
		kc(k).Env[0].Name, kc(k).Env[0].Value = "INSTROOM_LOG_LEVL", &v
	}, "names no setting"},
	{"INSTROOM variable from a secret", func(k *k8sExample) {
		e := &kc(k).Env[0]
		e.Value, e.ValueFrom = nil, kc(k).Env[1].ValueFrom
	}, "give INSTROOM_ variables by value"},
	{"no data volume", func(k *k8sExample) { kc(k).VolumeMounts = kc(k).VolumeMounts[:2] }, "data_dir /var/lib/instroom is not a writable"},
	{"replicas without scale_out", func(k *k8sExample) { editConfigMap(k, "group: instroom-gemeente-voorbeeld", "") }, "without scale_out.group"},
	{"local drop zone with replicas", func(k *k8sExample) {
		editConfigMap(k, "type: s3\n    channel: brief\n    prefix: aanlevering/brieven", "type: dir\n    channel: brief\n    path: /var/lib/instroom/brieven")
	}, "drop zones must be shared"},
	{"too short a grace period", func(k *k8sExample) { kpod(k).TerminationGracePeriodSeconds = 20 }, "terminationGracePeriodSeconds"},
	{"another namespace", func(k *k8sExample) { k.namespaced[0].Metadata.Namespace = "default" }, "namespace"},
}

// TestDeployKubernetesStrict: a misspelt field in the example fails to decode.
func TestDeployKubernetesStrict(t *testing.T) {
	b, err := os.ReadFile("../../deploy/kubernetes/instroom.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseK8s(bytes.Replace(b, []byte("readinessProbe:"), []byte("readinesProbe:"), 1)); err == nil || !strings.Contains(err.Error(), "readinesProbe") {
		t.Errorf("parseK8s(readinesProbe) = %v, want an error naming the field", err)
	}
}
