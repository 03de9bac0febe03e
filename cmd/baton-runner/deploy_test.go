package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"

	"github.com/baton-runner/baton-runner/config"
	"github.com/baton-runner/baton-runner/host/membudget"
)

// manifest is the part of a Kubernetes object the test reads.
type manifest struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	StringData map[string]string `yaml:"stringData"`
	Spec       struct {
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec struct {
				Containers []struct {
					Args    []string `yaml:"args"`
					EnvFrom []struct {
						SecretRef struct {
							Name string `yaml:"name"`
						} `yaml:"secretRef"`
					} `yaml:"envFrom"`
					Env []struct {
						Name string `yaml:"name"`
					} `yaml:"env"`
				} `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

// envVarsRead is every environment variable the image's entry point (the
// bare command) reads through its flags.
func envVarsRead() map[string]bool {
	app := &cli.App{Flags: rootFlags()}
	out := map[string]bool{}
	for _, f := range app.Flags {
		if ev, ok := f.(interface{ GetEnvVars() []string }); ok {
			for _, v := range ev.GetEnvVars() {
				out[v] = true
			}
		}
	}
	return out
}

func TestKubernetesManifestsUseOnlyVariablesTheBinaryReads(t *testing.T) {
	read := envVarsRead()
	docs := map[string]manifest{}
	for _, name := range []string{"baton-segment-secrets.yaml", "baton-segment.yaml"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "kubernetes", name))
		if err != nil {
			t.Fatal(err)
		}
		var m manifest
		if err := yaml.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		docs[m.Kind] = m
	}
	secret, deploy := docs["Secret"], docs["Deployment"]
	if len(secret.StringData) == 0 || len(deploy.Spec.Template.Spec.Containers) != 1 {
		t.Fatal("want one Secret with stringData and one Deployment with one container")
	}
	for k := range secret.StringData {
		if !read[k] {
			t.Errorf("the Secret sets %s, which baton-runner does not read", k)
		}
	}
	for _, k := range []string{"BATON_CLIENT_ID", "BATON_CLIENT_SECRET", "BATON_TOKEN", "BATON_PROVISIONING"} {
		if _, ok := secret.StringData[k]; !ok {
			t.Errorf("the Secret lacks %s, which ConductorOne's documentation sets", k)
		}
	}
	c := deploy.Spec.Template.Spec.Containers[0]
	for _, e := range c.Env {
		if !read[e.Name] {
			t.Errorf("the Deployment sets %s, which baton-runner does not read", e.Name)
		}
	}
	if len(c.Args) != 0 {
		t.Errorf("the container passes args %v; like ConductorOne's image it must run the bare command", c.Args)
	}
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].SecretRef.Name != secret.Metadata.Name {
		t.Errorf("the container must take its environment from the Secret %q", secret.Metadata.Name)
	}
	labels := deploy.Spec.Template.Metadata.Labels
	if labels["app"] != "baton-segment" || labels["baton"] != "true" || labels["baton-app"] != "segment" {
		t.Errorf("pod labels %v, want app/baton/baton-app as in ConductorOne's manifests", labels)
	}
}

// TestStatefulSetConfigIsValid: the runner.toml embedded in the StatefulSet
// example passes the same validation as `config check`, the variables the
// pods set are ones serve reads, and every secret is a file: reference to a
// key of the Secret mounted where it points (not through subPath, whose
// files Kubernetes never updates), so that a rotated token reaches serve
// without a restart.
func TestStatefulSetConfigIsValid(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "kubernetes", "baton-runner-statefulset.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var toml string
	var env []string
	secrets := map[string]map[string]string{} // Secret name → its keys
	mounted := map[string]string{}            // mount path → Secret name
	for {
		var doc struct {
			Kind     string `yaml:"kind"`
			Metadata struct {
				Name string `yaml:"name"`
			} `yaml:"metadata"`
			Data       map[string]string `yaml:"data"`
			StringData map[string]string `yaml:"stringData"`
			Spec       struct {
				Template struct {
					Spec struct {
						Containers []struct {
							Env []struct {
								Name string `yaml:"name"`
							} `yaml:"env"`
							EnvFrom      []any `yaml:"envFrom"`
							VolumeMounts []struct {
								Name      string `yaml:"name"`
								MountPath string `yaml:"mountPath"`
								SubPath   string `yaml:"subPath"`
							} `yaml:"volumeMounts"`
						} `yaml:"containers"`
						Volumes []struct {
							Name   string
							Secret struct {
								SecretName string `yaml:"secretName"`
							}
						} `yaml:"volumes"`
					} `yaml:"spec"`
				} `yaml:"template"`
			} `yaml:"spec"`
		}
		if err := dec.Decode(&doc); err != nil {
			break
		}
		switch doc.Kind {
		case "ConfigMap":
			toml = doc.Data["runner.toml"]
		case "Secret":
			secrets[doc.Metadata.Name] = doc.StringData
		}
		fromSecret := map[string]string{}
		for _, v := range doc.Spec.Template.Spec.Volumes {
			fromSecret[v.Name] = v.Secret.SecretName
		}
		for _, c := range doc.Spec.Template.Spec.Containers {
			for _, e := range c.Env {
				env = append(env, e.Name)
			}
			if len(c.EnvFrom) > 0 {
				t.Error("the StatefulSet passes secrets as environment variables, which a reload cannot change")
			}
			for _, m := range c.VolumeMounts {
				if name := fromSecret[m.Name]; name != "" {
					if m.SubPath != "" {
						t.Errorf("the Secret %s is mounted through subPath, whose files Kubernetes does not update", name)
					}
					mounted[m.MountPath] = name
				}
			}
		}
	}
	cfg, err := config.Parse("runner.toml", []byte(toml))
	if err != nil {
		t.Fatalf("the StatefulSet's runner.toml is invalid: %v", err)
	}
	refs := 0
	for _, tn := range cfg.Tenants {
		check := func(ref config.SecretRef) {
			refs++
			file, ok := strings.CutPrefix(ref.String(), "file:")
			if !ok {
				t.Errorf("tenant %s: secret %s is not a file: reference to a mounted Secret", tn.Name, ref)
				return
			}
			dir, key := filepath.Split(file)
			name := mounted[filepath.Clean(dir)]
			if _, ok := secrets[name][key]; !ok || name == "" {
				t.Errorf("tenant %s: %s is no key of a Secret mounted at %s (mounted: %v)", tn.Name, ref, dir, mounted)
			}
		}
		check(tn.Token)
		if tn.Service != nil {
			check(tn.Service.ClientID)
			check(tn.Service.ClientSecret)
		}
	}
	if refs < 2 {
		t.Errorf("only %d secret references in the StatefulSet's runner.toml", refs)
	}
	read := map[string]bool{}
	for _, f := range serveCommand().Flags {
		if ev, ok := f.(interface{ GetEnvVars() []string }); ok {
			for _, v := range ev.GetEnvVars() {
				read[v] = true
			}
		}
	}
	for _, e := range env {
		if !read[e] {
			t.Errorf("the StatefulSet sets %s, which serve does not read", e)
		}
	}
}

// TestMemoryBudgetMatchesTheContainerLimit: the pods' process memory
// budget and their container's memory limit are set together, in serve's
// StatefulSet and service mode's Deployment: the budget is the limit less
// membudget.MarginMiB, what a sync may peak above its estimate, so that a
// pod within its budget is not killed for its limit.
func TestMemoryBudgetMatchesTheContainerLimit(t *testing.T) {
	for file, kind := range map[string]string{"baton-runner-statefulset.yaml": "StatefulSet", "baton-segment.yaml": "Deployment"} {
		t.Run(kind, func(t *testing.T) { checkMemoryBudget(t, file, kind) })
	}
}

func checkMemoryBudget(t *testing.T, file, kind string) {
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "kubernetes", file))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	containers := 0
	for {
		var doc struct {
			Kind string `yaml:"kind"`
			Spec struct {
				Template struct {
					Spec struct {
						Containers []struct {
							Args []string `yaml:"args"`
							Env  []struct {
								Name  string `yaml:"name"`
								Value string `yaml:"value"`
							} `yaml:"env"`
							Resources struct {
								Requests map[string]string `yaml:"requests"`
								Limits   map[string]string `yaml:"limits"`
							} `yaml:"resources"`
						} `yaml:"containers"`
					} `yaml:"spec"`
				} `yaml:"template"`
			} `yaml:"spec"`
		}
		if err := dec.Decode(&doc); err != nil {
			break
		}
		if doc.Kind != kind {
			continue
		}
		for _, c := range doc.Spec.Template.Spec.Containers {
			containers++
			budget := -1
			for _, e := range c.Env {
				if e.Name == "BATON_PROCESS_MEMORY_MIB" {
					if budget, err = strconv.Atoi(e.Value); err != nil {
						t.Fatalf("BATON_PROCESS_MEMORY_MIB %q: %v", e.Value, err)
					}
				}
			}
			limit, err := quantityMiB(c.Resources.Limits["memory"])
			if err != nil {
				t.Fatalf("the container's memory limit: %v", err)
			}
			if budget < config.MinProcessMemoryMiB {
				t.Errorf("BATON_PROCESS_MEMORY_MIB is %d: the %s's container needs a budget of at least %d MiB", budget, kind, config.MinProcessMemoryMiB)
			}
			if budget != limit-membudget.MarginMiB {
				t.Errorf("BATON_PROCESS_MEMORY_MIB %d MiB with a memory limit of %d MiB: want the limit less the %d MiB margin, %d",
					budget, limit, membudget.MarginMiB, limit-membudget.MarginMiB)
			}
			if req, err := quantityMiB(c.Resources.Requests["memory"]); err != nil || req != limit {
				t.Errorf("memory request %q: want the limit, %d MiB, so that the pod is not evicted first under pressure (%v)", c.Resources.Requests["memory"], limit, err)
			}
		}
	}
	if containers != 1 {
		t.Fatalf("%d containers in the %s, want 1", containers, kind)
	}
}

// quantityMiB reads a Kubernetes memory quantity in Mi or Gi.
func quantityMiB(q string) (int, error) {
	for suffix, mul := range map[string]int{"Mi": 1, "Gi": 1024} {
		if n, ok := strings.CutSuffix(q, suffix); ok {
			v, err := strconv.Atoi(n)
			return v * mul, err
		}
	}
	return 0, fmt.Errorf("%q is not a quantity in Mi or Gi", q)
}
