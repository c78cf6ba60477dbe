package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const object = `apiVersion: example.dev/v1
kind: Thing
metadata: {name: a, generation: 2}
status: {ready: true, count: 3}
`

const script = `local hs = {}
if obj.status.ready then
  hs.status = "Healthy"
  hs.message = "count " .. tostring(obj.status.count) .. " of generation " .. tostring(obj.metadata.generation)
else
  hs.status = "Progressing"
end
return hs
`

const tests = `tests:
- healthStatus: {status: Healthy, message: count 3 of generation 2}
  inputPath: testdata/ready.yaml
`

// customization writes DIR/example.dev/Thing with the given files and returns DIR.
func customization(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	folder := filepath.Join(dir, "example.dev", "Thing")
	for name, text := range files {
		path := filepath.Join(folder, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func runHealthtest(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String() + stderr.String()
}

func TestTheRepositorysChecksPass(t *testing.T) {
	code, out := runHealthtest(t, "--customizations", "../resource_customizations", "--argocd-cm", "../argocd-cm.yaml")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

func TestAPassingCheck(t *testing.T) {
	dir := customization(t, map[string]string{"health.lua": script, "health_test.yaml": tests, "testdata/ready.yaml": object})
	code, out := runHealthtest(t, "--customizations", dir)
	if code != 0 || !strings.Contains(out, "healthtest: 1 passed, 0 failed") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

func TestAWrongExpectationFails(t *testing.T) {
	dir := customization(t, map[string]string{"health.lua": script, "testdata/ready.yaml": object,
		"health_test.yaml": strings.Replace(tests, "count 3", "count 4", 1)})
	code, out := runHealthtest(t, "--customizations", dir)
	if code != 1 || !strings.Contains(out, `got Healthy: "count 3 of generation 2", want Healthy: "count 4 of generation 2"`) {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

func TestStringLibraryIsNotOpenForArgocdCm(t *testing.T) {
	formatted := strings.Replace(script, `"count " .. tostring(obj.status.count)`, `string.format("count %d", obj.status.count)`, 1)
	dir := customization(t, map[string]string{"health.lua": formatted, "health_test.yaml": tests, "testdata/ready.yaml": object})
	code, out := runHealthtest(t, "--customizations", dir)
	if code != 1 || !strings.Contains(out, "with argocd-cm libraries:") || strings.Contains(out, "with all libraries:") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

func TestAnUnknownStatusIsUnknown(t *testing.T) {
	got, err := Evaluate(`return {status = "Fine", message = "x"}`, map[string]any{}, false)
	if err != nil || got != (HealthStatus{Status: "Unknown", Message: invalidStatusMessage}) {
		t.Fatalf("got %+v, %v", got, err)
	}
	if _, err := Evaluate(`return "Healthy"`, map[string]any{}, false); err == nil {
		t.Fatal("a script that returns no table passed")
	}
	if _, err := Evaluate(`while true do end`, map[string]any{}, false); err == nil {
		t.Fatal("a script that never ends passed")
	}
}

func TestUnusedTestdataFails(t *testing.T) {
	dir := customization(t, map[string]string{"health.lua": script, "health_test.yaml": tests,
		"testdata/ready.yaml": object, "testdata/forgotten.yaml": object})
	code, out := runHealthtest(t, "--customizations", dir)
	if code != 1 || !strings.Contains(out, "testdata/forgotten.yaml is no test's input") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

func TestConfigMapMustEqualTheScript(t *testing.T) {
	dir := customization(t, map[string]string{"health.lua": script, "health_test.yaml": tests, "testdata/ready.yaml": object})
	indented := "    " + strings.ReplaceAll(strings.TrimSuffix(script, "\n"), "\n", "\n    ") + "\n"
	cm := func(key, body string) string {
		path := filepath.Join(t.TempDir(), "argocd-cm.yaml")
		text := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: argocd-cm}\ndata:\n  " + key + ": |\n" + body
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	key := "resource.customizations.health.example.dev_Thing"
	if code, out := runHealthtest(t, "--customizations", dir, "--argocd-cm", cm(key, indented)); code != 0 {
		t.Fatalf("the same script: exit %d:\n%s", code, out)
	}
	changed := strings.Replace(indented, "Progressing", "Degraded", 1)
	if code, out := runHealthtest(t, "--customizations", dir, "--argocd-cm", cm(key, changed)); code != 1 ||
		!strings.Contains(out, "differs from example.dev/Thing/health.lua at line 6") {
		t.Fatalf("a changed script: exit %d:\n%s", code, out)
	}
	other := "resource.customizations.health.example.dev_Other"
	if code, out := runHealthtest(t, "--customizations", dir, "--argocd-cm", cm(other, indented)); code != 1 ||
		!strings.Contains(out, "no resource.customizations.health.example.dev_Thing entry") {
		t.Fatalf("a missing entry: exit %d:\n%s", code, out)
	}
}
