package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// schemaDir is the folder of Grafana schemas: $NINES_GRAFANA_SCHEMAS, else
// shared/third_party/grafana-schema beside the repository.
func schemaDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("NINES_GRAFANA_SCHEMAS")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "..", "shared", "third_party", "grafana-schema")
	}
	if _, err := os.Stat(filepath.Join(dir, "dashboard.jsonschema.json")); err != nil {
		t.Fatalf("Grafana schemas not found (set NINES_GRAFANA_SCHEMAS): %v", err)
	}
	return dir
}

func check(t *testing.T, files ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	args := append([]string{"--schemas", schemaDir(t)}, files...)
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestValid(t *testing.T) {
	for _, tc := range []struct {
		file       string
		dashboards int
	}{
		{"testdata/minimal.json", 1},
		{"testdata/realistic.json", 1},
		{"testdata/wrapped-good.yaml", 2},
	} {
		t.Run(tc.file, func(t *testing.T) {
			code, out, errs := check(t, tc.file)
			want := fmt.Sprintf("schemacheck: %d dashboards in 1 files OK\n", tc.dashboards)
			if code != 0 || out != want {
				t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s\nwant exit 0 and %q", code, out, errs, want)
			}
		})
	}
}

func TestAllValidTogether(t *testing.T) {
	code, out, _ := check(t, "testdata/minimal.json", "testdata/realistic.json", "testdata/wrapped-good.yaml")
	if want := "schemacheck: 4 dashboards in 3 files OK\n"; code != 0 || out != want {
		t.Errorf("exit %d, stdout %q, want 0 and %q", code, out, want)
	}
}

func TestInvalid(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []string // lines expected in stdout
	}{
		{"testdata/unknown-top-level.json", []string{
			"testdata/unknown-top-level.json[#1 Unknown top-level property]: /: additional properties '__requires' not allowed",
		}},
		{"testdata/stat-unknown-option.json", []string{
			"testdata/stat-unknown-option.json[#1 Stat with an unknown option]: /panels/0/options: additional properties 'sparkline' not allowed",
		}},
		{"testdata/timeseries-bad-custom.json", []string{
			"testdata/timeseries-bad-custom.json[#1 Timeseries with a wrong-typed custom field config]: /panels/0/fieldConfig/defaults/custom/lineWidth: got string, want number",
		}},
		{"testdata/target-without-expr.json", []string{
			"testdata/target-without-expr.json[#1 Target without expr]: /panels/0/targets/0: missing property 'expr'",
			"testdata/target-without-expr.json[#1 Target without expr]: /panels/0/targets/0: additional properties 'query' not allowed",
		}},
		{"testdata/duplicate-panel-id.json", []string{
			"testdata/duplicate-panel-id.json[#1 Duplicate panel id]: /panels/1/panels/0/id: duplicate panel id 7 (first at /panels/0)",
		}},
		{"testdata/undefined-variable.json", []string{
			`testdata/undefined-variable.json[#1 Undefined variable]: /links/0/url: [[team]] refers to undefined template variable "team"`,
			`testdata/undefined-variable.json[#1 Undefined variable]: /panels/0/targets/0/expr: $foo refers to undefined template variable "foo"`,
			`testdata/undefined-variable.json[#1 Undefined variable]: /templating/list/2/query: $cluster refers to undefined template variable "cluster"`,
		}},
		{"testdata/duplicate-variable.json", []string{
			`testdata/duplicate-variable.json[#1 Duplicate variable]: /templating/list/1/name: duplicate template variable "window" (first at /templating/list/0)`,
		}},
		{"testdata/configmap-bad.yaml", []string{
			"testdata/configmap-bad.yaml[#2 Bad]: /panels/0/gridPos: x+w = 16+12 = 28 is wider than the 24-column grid",
		}},
		{"testdata/no-schema-panel.json", []string{
			`testdata/no-schema-panel.json[#1 Panel type without a schema]: /panels/0/type: panel type "piechart" has no schema to check it against (use one of: bargauge, gauge, stat, table, text, timeseries)`,
		}},
		{"testdata/no-dashboards.yaml", []string{
			"testdata/no-dashboards.yaml: no dashboards (no ConfigMap data key ending in .json, no GrafanaDashboard)",
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			code, out, errs := check(t, tc.file)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("stdout:\n%s\nwant:\n%s", out, strings.Join(tc.want, "\n"))
			}
			if !strings.HasPrefix(errs, "schemacheck: FAILED: ") {
				t.Errorf("stderr %q, want a FAILED summary", errs)
			}
		})
	}
}

// A bad file among good ones fails the run; the good ones print nothing.
func TestMixed(t *testing.T) {
	code, out, _ := check(t, "testdata/minimal.json", "testdata/undefined-variable.json", "testdata/realistic.json")
	if code != 1 || out == "" || strings.Count(out, "\n") != strings.Count(out, "undefined-variable.json[#1 ") {
		t.Errorf("exit %d, stdout:\n%s", code, out)
	}
}

func TestProblemCap(t *testing.T) {
	var panels []string
	for i := 0; i < 30; i++ {
		panels = append(panels, fmt.Sprintf(`{"type": "text", "id": 1, "gridPos": {"h": 1, "w": 12, "x": 0, "y": %d}}`, i))
	}
	file := filepath.Join(t.TempDir(), "many.json")
	doc := `{"uid": "many", "title": "Many", "schemaVersion": 41, "templating": {"list": []},
		"annotations": {"list": []}, "panels": [` + strings.Join(panels, ",") + `]}`
	if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ := check(t, file)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if code != 1 || len(lines) != maxProblems+1 || !strings.HasSuffix(lines[maxProblems], ": ... and 9 more problems") {
		t.Errorf("exit %d, %d lines:\n%s", code, len(lines), out)
	}
}

func TestUID(t *testing.T) {
	for _, tc := range []struct {
		uid  string // JSON, or "" for none
		want string
	}{
		{`"ok_UID-1"`, ""},
		{"", "/uid: missing"},
		{`""`, "must be 1 to 40 characters"},
		{`"` + strings.Repeat("a", 41) + `"`, "must be 1 to 40 characters"},
		{`"has space"`, "may hold only [a-zA-Z0-9_-]"},
	} {
		m := map[string]any{}
		if tc.uid != "" {
			v, err := parseJSON([]byte(tc.uid))
			if err != nil {
				t.Fatal(err)
			}
			m["uid"] = v
		}
		c := &checker{}
		c.checkUID(m)
		switch {
		case tc.want == "" && len(c.problems) != 0:
			t.Errorf("uid %s: unexpected %v", tc.uid, c.problems)
		case tc.want != "" && (len(c.problems) != 1 || !strings.Contains(c.problems[0].path+": "+c.problems[0].msg, tc.want)):
			t.Errorf("uid %s: got %v, want %q", tc.uid, c.problems, tc.want)
		}
	}
}

func TestFindRefs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // names found, "!" marking malformed ones
	}{
		{`up{namespace="$namespace"}`, "namespace"},
		{`rate(x[$__rate_interval])`, "__rate_interval"},
		{`x{a=~"${ns:regex}", b="${job}"}`, "ns job"},
		{`/d/x?var-slo=${__data.fields.slo}&${__url_time_range}`, "__data __url_time_range"},
		{`sum(x) [[window]] [[ns:csv]]`, "window ns"},
		{`x{code=~"5..", path=~"/api$", q=~"^a$|^b$"}`, ""},
		{`label_replace(x, "dst", "$1", "src", "(.*)")`, ""},
		{`cost in $`, ""},
		{`x[5m:1m] y[[1]]`, ""},
		{`a ${} b ${1x} c ${ns`, "! ! !"},
		{`$a$b`, "a b"},
	} {
		var got []string
		for _, r := range findRefs(tc.in) {
			if r.malformed {
				got = append(got, "!")
			} else {
				got = append(got, r.name)
			}
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("findRefs(%q) = %q, want %q", tc.in, strings.Join(got, " "), tc.want)
		}
	}
}

func TestUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(nil, &out, &errb); code != 2 {
		t.Errorf("no arguments: exit %d, want 2", code)
	}
	if code := run([]string{"--schemas", t.TempDir(), "testdata/minimal.json"}, &out, &errb); code != 2 {
		t.Errorf("empty schema folder: exit %d, want 2", code)
	}
}
