package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"

	"gopkg.in/yaml.v3"
)

// The Kubernetes example is decoded strictly into these types, a subset of the
// Kubernetes API with its field names: a misspelt or unexpected field fails the test.

type k8sMeta struct {
	Name        string            `yaml:"name"`
	Namespace   string            `yaml:"namespace"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type k8sHeader struct {
	APIVersion string  `yaml:"apiVersion"`
	Kind       string  `yaml:"kind"`
	Metadata   k8sMeta `yaml:"metadata"`
}

type k8sSelector struct {
	MatchLabels map[string]string `yaml:"matchLabels"`
}

type k8sConfigMap struct {
	k8sHeader `yaml:",inline"`
	Data      map[string]string `yaml:"data"`
}

type k8sSecret struct {
	k8sHeader  `yaml:",inline"`
	Type       string            `yaml:"type"`
	StringData map[string]string `yaml:"stringData"`
}

type k8sDeployment struct {
	k8sHeader `yaml:",inline"`
	Spec      struct {
		Replicas int         `yaml:"replicas"`
		Selector k8sSelector `yaml:"selector"`
		Strategy struct {
			Type          string `yaml:"type"`
			RollingUpdate struct {
				MaxSurge       string `yaml:"maxSurge"`
				MaxUnavailable string `yaml:"maxUnavailable"`
			} `yaml:"rollingUpdate"`
		} `yaml:"strategy"`
		Template struct {
			Metadata k8sMeta    `yaml:"metadata"`
			Spec     k8sPodSpec `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type k8sPodSpec struct {
	AutomountServiceAccountToken  *bool `yaml:"automountServiceAccountToken"`
	ShareProcessNamespace         bool  `yaml:"shareProcessNamespace"`
	TerminationGracePeriodSeconds int   `yaml:"terminationGracePeriodSeconds"`
	SecurityContext               struct {
		RunAsNonRoot   bool `yaml:"runAsNonRoot"`
		RunAsUser      int  `yaml:"runAsUser"`
		RunAsGroup     int  `yaml:"runAsGroup"`
		FSGroup        int  `yaml:"fsGroup"`
		SeccompProfile struct {
			Type string `yaml:"type"`
		} `yaml:"seccompProfile"`
	} `yaml:"securityContext"`
	TopologySpreadConstraints []struct {
		MaxSkew           int         `yaml:"maxSkew"`
		TopologyKey       string      `yaml:"topologyKey"`
		WhenUnsatisfiable string      `yaml:"whenUnsatisfiable"`
		LabelSelector     k8sSelector `yaml:"labelSelector"`
	} `yaml:"topologySpreadConstraints"`
	Containers []k8sContainer `yaml:"containers"`
	Volumes    []k8sVolume    `yaml:"volumes"`
}

type k8sContainer struct {
	Name    string   `yaml:"name"`
	Image   string   `yaml:"image"`
	Command []string `yaml:"command"`
	Args    []string `yaml:"args"`
	Env     []struct {
		Name      string  `yaml:"name"`
		Value     *string `yaml:"value"`
		ValueFrom *struct {
			ResourceFieldRef *struct {
				Resource string `yaml:"resource"`
				Divisor  string `yaml:"divisor"`
			} `yaml:"resourceFieldRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
		Protocol      string `yaml:"protocol"`
	} `yaml:"ports"`
	LivenessProbe  *k8sProbe `yaml:"livenessProbe"`
	ReadinessProbe *k8sProbe `yaml:"readinessProbe"`
	StartupProbe   *k8sProbe `yaml:"startupProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext struct {
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   bool  `yaml:"readOnlyRootFilesystem"`
		RunAsUser                *int  `yaml:"runAsUser"`
		Capabilities             struct {
			Drop []string `yaml:"drop"`
		} `yaml:"capabilities"`
	} `yaml:"securityContext"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
		SubPath   string `yaml:"subPath"`
	} `yaml:"volumeMounts"`
}

type k8sProbe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
	InitialDelaySeconds int `yaml:"initialDelaySeconds"`
	PeriodSeconds       int `yaml:"periodSeconds"`
	TimeoutSeconds      int `yaml:"timeoutSeconds"`
	FailureThreshold    int `yaml:"failureThreshold"`
}

type k8sKeyPath struct {
	Key  string `yaml:"key"`
	Path string `yaml:"path"`
}

type k8sVolume struct {
	Name      string `yaml:"name"`
	ConfigMap *struct {
		Name        string       `yaml:"name"`
		Items       []k8sKeyPath `yaml:"items"`
		DefaultMode int          `yaml:"defaultMode"`
	} `yaml:"configMap"`
	Secret *struct {
		SecretName  string       `yaml:"secretName"`
		Items       []k8sKeyPath `yaml:"items"`
		DefaultMode int          `yaml:"defaultMode"`
	} `yaml:"secret"`
	EmptyDir *struct {
		SizeLimit string `yaml:"sizeLimit"`
		Medium    string `yaml:"medium"`
	} `yaml:"emptyDir"`
	PersistentVolumeClaim *struct {
		ClaimName string `yaml:"claimName"`
	} `yaml:"persistentVolumeClaim"`
}

type k8sService struct {
	k8sHeader `yaml:",inline"`
	Spec      struct {
		Type     string            `yaml:"type"`
		Selector map[string]string `yaml:"selector"`
		Ports    []struct {
			Name       string `yaml:"name"`
			Port       int    `yaml:"port"`
			TargetPort string `yaml:"targetPort"`
			Protocol   string `yaml:"protocol"`
		} `yaml:"ports"`
	} `yaml:"spec"`
}

type k8sPDB struct {
	k8sHeader `yaml:",inline"`
	Spec      struct {
		MinAvailable   string      `yaml:"minAvailable"`
		MaxUnavailable string      `yaml:"maxUnavailable"`
		Selector       k8sSelector `yaml:"selector"`
	} `yaml:"spec"`
}

// k8sExample is deploy/kubernetes/instroom.yaml.
type k8sExample struct {
	img         image
	namespaces  []string
	configMaps  map[string]*k8sConfigMap
	secrets     map[string]*k8sSecret
	deployments []*k8sDeployment
	services    []*k8sService
	pdbs        []*k8sPDB
	namespaced  []k8sHeader // every object but the Namespaces
}

func loadK8s(t *testing.T, img image) *k8sExample {
	t.Helper()
	b, err := os.ReadFile("../../deploy/kubernetes/instroom.yaml")
	if err != nil {
		t.Fatal(err)
	}
	k, err := parseK8s(b)
	if err != nil {
		t.Fatalf("deploy/kubernetes/instroom.yaml: %v", err)
	}
	k.img = img
	return k
}

// parseK8s decodes every document of a manifest strictly, by kind.
func parseK8s(b []byte) (*k8sExample, error) {
	k := &k8sExample{configMaps: map[string]*k8sConfigMap{}, secrets: map[string]*k8sSecret{}}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for i := 0; ; i++ {
		var node yaml.Node
		if err := dec.Decode(&node); errors.Is(err, io.EOF) {
			return k, nil
		} else if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if len(node.Content) == 0 {
			continue // a document of comments only
		}
		doc, _ := yaml.Marshal(&node)
		var h k8sHeader
		if err := node.Decode(&h); err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		var obj any
		switch h.APIVersion + " " + h.Kind {
		case "v1 Namespace":
			obj, k.namespaces = &k8sHeader{}, append(k.namespaces, h.Metadata.Name)
		case "v1 ConfigMap":
			cm := &k8sConfigMap{}
			obj, k.configMaps[h.Metadata.Name] = cm, cm
		case "v1 Secret":
			s := &k8sSecret{}
			obj, k.secrets[h.Metadata.Name] = s, s
		case "apps/v1 Deployment":
			d := &k8sDeployment{}
			obj, k.deployments = d, append(k.deployments, d)
		case "v1 Service":
			s := &k8sService{}
			obj, k.services = s, append(k.services, s)
		case "policy/v1 PodDisruptionBudget":
			p := &k8sPDB{}
			obj, k.pdbs = p, append(k.pdbs, p)
		default:
			return nil, fmt.Errorf("document %d: %s %s is not a kind this test knows", i, h.APIVersion, h.Kind)
		}
		if h.Kind != "Namespace" {
			k.namespaced = append(k.namespaced, h)
		}
		strict := yaml.NewDecoder(bytes.NewReader(doc))
		strict.KnownFields(true)
		if err := strict.Decode(obj); err != nil {
			return nil, fmt.Errorf("document %d (%s %s): %w", i, h.Kind, h.Metadata.Name, err)
		}
	}
}

// TestDeployKubernetes checks deploy/kubernetes/instroom.yaml (see deploy_test.go).
func TestDeployKubernetes(t *testing.T) {
	k := loadK8s(t, readImage(t))
	for _, p := range k.check(t.TempDir()) {
		t.Error(p)
	}
}

// check returns what is wrong with the example; root is a scratch directory.
func (k *k8sExample) check(root string) []string {
	var p problems
	if len(k.deployments) != 1 || len(k.deployments[0].Spec.Template.Spec.Containers) != 1 {
		p.add("want one Deployment with one container")
		return p
	}
	d := k.deployments[0]
	pod := &d.Spec.Template.Spec
	c := &pod.Containers[0]
	for _, h := range k.namespaced {
		if len(k.namespaces) != 1 || h.Metadata.Namespace != k.namespaces[0] {
			p.add("%s %s: namespace %q is not the example's Namespace %q", h.Kind, h.Metadata.Name, h.Metadata.Namespace, k.namespaces)
		}
	}
	k.checkImageUse(&p, pod, c)
	rc := k.resolve(&p, root, pod, c)
	if rc == nil {
		return p
	}
	k.checkPorts(&p, d, c, rc)
	k.checkReplicas(&p, d, rc)
	return p
}
