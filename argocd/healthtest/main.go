// Command healthtest runs Argo CD resource health checks against their test tables, on the Lua VM
// that Argo CD embeds (gopher-lua, Lua 5.1), the way Argo CD runs them.
//
//	healthtest --customizations DIR [--argocd-cm FILE]
//
// DIR is laid out like Argo CD's resource_customizations: DIR/<group>/<Kind>/health.lua beside
// health_test.yaml, whose tests name an object (inputPath, relative to the test file) and the
// health Argo CD must report for it (healthStatus: {status, message}). Each object is given to
// the script as the global table `obj` and the script's returned table is read as {status,
// message}; a status that is not one of Argo CD's is Unknown with Argo CD's message for it, as
// Argo CD reports it. Every case runs twice: with only the libraries Argo CD opens for a check
// from argocd-cm (package, base, table: no string, no math), and with all of Lua's libraries, as
// for a built-in check. Every file in testdata/ must be some test's input.
//
// With --argocd-cm, the ConfigMap's resource.customizations.health.<group>_<Kind> entries must
// equal the health.lua files byte for byte, and every health.lua must have its entry.
//
// Prints one line per check, "ok: ..." or "FAIL: ...", then "healthtest: N passed, N failed";
// exits 1 if any failed, 2 on a usage error.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
	"sigs.k8s.io/yaml"
)

const (
	healthScript   = "health.lua"
	healthTests    = "health_test.yaml"
	cmHealthPrefix = "resource.customizations.health."
	// What Argo CD reports for a status it does not know.
	invalidStatusMessage = "Lua returned an invalid health status"
	// Argo CD stops a script after a second.
	scriptTimeout = time.Second
)

var validStatuses = map[string]bool{
	"Unknown": true, "Progressing": true, "Suspended": true, "Healthy": true, "Degraded": true,
	"Missing": true,
}

// HealthStatus is Argo CD's verdict on one object.
type HealthStatus struct {
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
}

type testCase struct {
	HealthStatus HealthStatus `json:"healthStatus"`
	InputPath    string       `json:"inputPath"`
}

type testTable struct {
	Tests []testCase `json:"tests"`
}

type configMap struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   map[string]any    `json:"metadata"`
	Data       map[string]string `json:"data"`
}

type report struct {
	out            io.Writer
	passed, failed int
}

func (r *report) ok(format string, args ...any) {
	r.passed++
	fmt.Fprintf(r.out, "ok: "+format+"\n", args...)
}

func (r *report) fail(format string, args ...any) {
	r.failed++
	fmt.Fprintf(r.out, "FAIL: "+format+"\n", args...)
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("healthtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("customizations", "", "folder laid out like Argo CD's resource_customizations")
	cm := fs.String("argocd-cm", "", "an argocd-cm ConfigMap whose health entries must equal the health.lua files")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: healthtest --customizations DIR [--argocd-cm FILE]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *dir == "" || fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	scripts, err := findScripts(*dir)
	if err != nil {
		fmt.Fprintf(stderr, "healthtest: %v\n", err)
		return 2
	}
	r := &report{out: stdout}
	for _, key := range sortedKeys(scripts) {
		testScript(r, key, scripts[key])
	}
	if *cm != "" {
		checkConfigMap(r, *cm, scripts)
	}
	fmt.Fprintf(stdout, "healthtest: %d passed, %d failed\n", r.passed, r.failed)
	if r.failed > 0 || r.passed == 0 {
		return 1
	}
	return 0
}

// findScripts maps "<group>/<Kind>" to the folder of every health.lua under dir.
func findScripts(dir string) (map[string]string, error) {
	scripts := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || d.Name() != healthScript {
			return nil
		}
		folder := filepath.Dir(path)
		rel, err := filepath.Rel(dir, folder)
		if err != nil {
			return err
		}
		parts := strings.Split(filepath.ToSlash(rel), "/")
		if len(parts) != 2 {
			return fmt.Errorf("%s: expected DIR/<group>/<Kind>/%s", path, healthScript)
		}
		scripts[parts[0]+"/"+parts[1]] = folder
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(scripts) == 0 {
		return nil, fmt.Errorf("no %s under %s", healthScript, dir)
	}
	return scripts, nil
}

// testScript runs one health.lua against its health_test.yaml.
func testScript(r *report, key, folder string) {
	script, err := os.ReadFile(filepath.Join(folder, healthScript))
	if err != nil {
		r.fail("%s: %v", key, err)
		return
	}
	data, err := os.ReadFile(filepath.Join(folder, healthTests))
	if err != nil {
		r.fail("%s: %v", key, err)
		return
	}
	var table testTable
	if err := yaml.UnmarshalStrict(data, &table); err != nil {
		r.fail("%s: %s: %v", key, healthTests, err)
		return
	}
	if len(table.Tests) == 0 {
		r.fail("%s: %s has no tests", key, healthTests)
		return
	}
	used := map[string]bool{}
	for _, tc := range table.Tests {
		name := key + ": " + tc.InputPath
		used[filepath.Clean(filepath.Join(folder, tc.InputPath))] = true
		object, err := readObject(filepath.Join(folder, tc.InputPath))
		if err != nil {
			r.fail("%s: %v", name, err)
			continue
		}
		var problems []string
		for _, mode := range []struct {
			name     string
			openLibs bool
		}{{"argocd-cm libraries", false}, {"all libraries", true}} {
			got, err := Evaluate(string(script), object, mode.openLibs)
			switch {
			case err != nil:
				problems = append(problems, fmt.Sprintf("with %s: %v", mode.name, err))
			case got != tc.HealthStatus:
				problems = append(problems, fmt.Sprintf("with %s: got %s: %q, want %s: %q",
					mode.name, got.Status, got.Message, tc.HealthStatus.Status, tc.HealthStatus.Message))
			}
		}
		if len(problems) == 0 {
			r.ok("%s: %s: %s", name, tc.HealthStatus.Status, tc.HealthStatus.Message)
		} else {
			r.fail("%s: %s", name, strings.Join(problems, "; "))
		}
	}
	inputs, _ := filepath.Glob(filepath.Join(folder, "testdata", "*"))
	for _, input := range inputs {
		if !used[filepath.Clean(input)] {
			r.fail("%s: %s is no test's input", key, filepath.Join("testdata", filepath.Base(input)))
		}
	}
}

// readObject reads a Kubernetes object as Argo CD holds it: YAML through JSON, so numbers are
// float64, as in an unstructured object.
func readObject(path string) (map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var object map[string]any
	if err := yaml.Unmarshal(data, &object); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if object == nil {
		return nil, fmt.Errorf("%s: empty", path)
	}
	return object, nil
}

// Evaluate runs a health script on an object as Argo CD does and returns its verdict. Without
// openLibs only the package, base and table libraries are open, as for a check from argocd-cm.
func Evaluate(script string, object map[string]any, openLibs bool) (HealthStatus, error) {
	L := lua.NewState(lua.Options{SkipOpenLibs: !openLibs})
	defer L.Close()
	if !openLibs {
		for _, lib := range []struct {
			name string
			open lua.LGFunction
		}{{lua.LoadLibName, lua.OpenPackage}, {lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}} {
			if err := L.CallByParam(lua.P{Fn: L.NewFunction(lib.open), NRet: 0, Protect: true},
				lua.LString(lib.name)); err != nil {
				return HealthStatus{}, err
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	L.SetContext(ctx)
	L.SetGlobal("obj", toLua(L, object))
	if err := L.DoString(script); err != nil {
		return HealthStatus{}, err
	}
	table, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		return HealthStatus{}, fmt.Errorf("the script returned a %s, not a table", L.Get(-1).Type())
	}
	var got HealthStatus
	for field, into := range map[string]*string{"status": &got.Status, "message": &got.Message} {
		switch v := table.RawGetString(field).(type) {
		case lua.LString:
			*into = string(v)
		case *lua.LNilType:
		default:
			return HealthStatus{}, fmt.Errorf("%s is a %s, not a string", field, v.Type())
		}
	}
	if !validStatuses[got.Status] {
		return HealthStatus{Status: "Unknown", Message: invalidStatusMessage}, nil
	}
	return got, nil
}

// toLua converts a decoded JSON value into Lua values: objects and arrays into tables, numbers
// into Lua numbers, null into nil.
func toLua(L *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case []any:
		t := L.CreateTable(len(v), 0)
		for _, item := range v {
			t.Append(toLua(L, item))
		}
		return t
	case map[string]any:
		t := L.CreateTable(0, len(v))
		for k, item := range v {
			t.RawSetString(k, toLua(L, item))
		}
		return t
	}
	return lua.LNil
}

// checkConfigMap compares argocd-cm's health entries with the health.lua files.
func checkConfigMap(r *report, path string, scripts map[string]string) {
	data, err := os.ReadFile(path)
	if err != nil {
		r.fail("%v", err)
		return
	}
	var cm configMap
	if err := yaml.UnmarshalStrict(data, &cm); err != nil {
		r.fail("%s: %v", path, err)
		return
	}
	if cm.Kind != "ConfigMap" || cm.Metadata["name"] != "argocd-cm" {
		r.fail("%s: not the argocd-cm ConfigMap", path)
		return
	}
	seen := map[string]bool{}
	for _, dataKey := range sortedKeys(cm.Data) {
		rest, ok := strings.CutPrefix(dataKey, cmHealthPrefix)
		if !ok {
			continue
		}
		cut := strings.LastIndex(rest, "_")
		if cut <= 0 {
			r.fail("%s: %s: expected %s<group>_<Kind>", path, dataKey, cmHealthPrefix)
			continue
		}
		key := rest[:cut] + "/" + rest[cut+1:]
		seen[key] = true
		folder, ok := scripts[key]
		if !ok {
			r.fail("%s: %s has no %s/%s to compare with", path, dataKey, key, healthScript)
			continue
		}
		script, err := os.ReadFile(filepath.Join(folder, healthScript))
		if err != nil {
			r.fail("%s: %v", path, err)
			continue
		}
		if cm.Data[dataKey] == string(script) {
			r.ok("%s: %s is %s/%s, byte for byte", path, dataKey, key, healthScript)
		} else {
			r.fail("%s: %s differs from %s/%s%s", path, dataKey, key, healthScript,
				firstDifference(cm.Data[dataKey], string(script)))
		}
	}
	for _, key := range sortedKeys(scripts) {
		if !seen[key] {
			r.fail("%s: no %s%s entry for %s/%s", path, cmHealthPrefix,
				strings.Replace(key, "/", "_", 1), key, healthScript)
		}
	}
}

// firstDifference says on which line two texts first differ.
func firstDifference(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y || (i >= len(al)) != (i >= len(bl)) {
			return fmt.Sprintf(" at line %d: %q, file: %q", i+1, x, y)
		}
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
