// Command schemacheck validates Grafana dashboards against Grafana's
// published JSON Schemas plus a few sanity rules the schemas cannot express.
//
//	schemacheck --schemas DIR FILE...
//
// DIR holds draft-07 schemas: dashboard.jsonschema.json,
// prometheus.jsonschema.json and one <panel type>.jsonschema.json per panel
// plugin (each with definitions/Options and optionally
// definitions/FieldConfig). A FILE is a dashboard (.json) or a Kubernetes
// YAML stream (.yaml/.yml) whose ConfigMaps (data keys ending in .json) and
// GrafanaDashboard resources (spec.json) hold dashboards.
//
// Every problem is printed as "FILE[#N title]: /json/pointer: message"
// (N counts the dashboards of FILE from 1) and the exit status is 1; a clean
// run prints "schemacheck: N dashboards in M files OK" and exits 0. Usage
// and setup errors exit 2.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"gopkg.in/yaml.v3"
)

// maxProblems caps the lines printed for one dashboard.
const maxProblems = 20

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("schemacheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	schemaDir := fs.String("schemas", "", "folder of Grafana JSON Schemas (dashboard.jsonschema.json, <panel>.jsonschema.json, prometheus.jsonschema.json)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: schemacheck --schemas DIR FILE...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *schemaDir == "" || fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	schemas, err := loadSchemas(*schemaDir)
	if err != nil {
		fmt.Fprintf(stderr, "schemacheck: %v\n", err)
		return 2
	}

	dashboards, failedDashboards, failedFiles, total := 0, 0, 0, 0
	for _, file := range fs.Args() {
		docs, err := readDashboards(file)
		if err != nil {
			fmt.Fprintf(stdout, "%s: %v\n", file, err)
			failedFiles++
			total++
			continue
		}
		for i, d := range docs {
			dashboards++
			problems := d.problems
			if d.value != nil {
				problems = append(problems, schemas.check(d.value)...)
			}
			if len(problems) == 0 {
				continue
			}
			failedDashboards++
			total += len(problems)
			label := fmt.Sprintf("%s[#%d %s]", file, i+1, d.title())
			for j, p := range problems {
				if j == maxProblems {
					fmt.Fprintf(stdout, "%s: ... and %d more problems\n", label, len(problems)-maxProblems)
					break
				}
				fmt.Fprintf(stdout, "%s: %s: %s\n", label, p.path, p.msg)
			}
		}
	}
	if total > 0 {
		fmt.Fprintf(stderr, "schemacheck: FAILED: %d problems; %d of %d dashboards bad, %d of %d files unreadable or without dashboards\n",
			total, failedDashboards, dashboards, failedFiles, fs.NArg())
		return 1
	}
	fmt.Fprintf(stdout, "schemacheck: %d dashboards in %d files OK\n", dashboards, fs.NArg())
	return 0
}

// problem is one finding, located by a JSON pointer into the dashboard.
type problem struct {
	path string
	msg  string
}

// ---------------------------------------------------------------- schemas

type schemaSet struct {
	dashboard *jsonschema.Schema
	target    *jsonschema.Schema
	panels    map[string]panelSchema
}

type panelSchema struct {
	options     *jsonschema.Schema
	fieldConfig *jsonschema.Schema // nil when the plugin defines none
}

// nonPanelSchemas are the files in the schema folder that describe no panel.
var nonPanelSchemas = map[string]bool{"dashboard": true, "prometheus": true, "common": true}

func loadSchemas(dir string) (*schemaSet, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(abs, "*.jsonschema.json"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no *.jsonschema.json in %s", dir)
	}
	c := jsonschema.NewCompiler()
	defs := map[string]map[string]any{} // base name -> definitions
	for _, f := range files {
		doc, err := readJSONFile(f)
		if err != nil {
			return nil, err
		}
		if err := c.AddResource(f, doc); err != nil {
			return nil, err
		}
		base := strings.TrimSuffix(filepath.Base(f), ".jsonschema.json")
		m, _ := doc.(map[string]any)
		d, _ := m["definitions"].(map[string]any)
		defs[base] = d
	}
	s := &schemaSet{panels: map[string]panelSchema{}}
	compile := func(name, frag string) (*jsonschema.Schema, error) {
		sch, err := c.Compile(filepath.Join(abs, name+".jsonschema.json") + frag)
		if err != nil {
			return nil, fmt.Errorf("compiling %s.jsonschema.json%s: %v", name, frag, err)
		}
		return sch, nil
	}
	for _, name := range []string{"dashboard", "prometheus"} {
		if defs[name] == nil {
			return nil, fmt.Errorf("%s has no %s.jsonschema.json", dir, name)
		}
	}
	if s.dashboard, err = compile("dashboard", ""); err != nil {
		return nil, err
	}
	if s.target, err = compile("prometheus", ""); err != nil {
		return nil, err
	}
	for name, d := range defs {
		if nonPanelSchemas[name] || d["Options"] == nil {
			continue
		}
		var ps panelSchema
		if ps.options, err = compile(name, "#/definitions/Options"); err != nil {
			return nil, err
		}
		if d["FieldConfig"] != nil {
			if ps.fieldConfig, err = compile(name, "#/definitions/FieldConfig"); err != nil {
				return nil, err
			}
		}
		s.panels[name] = ps
	}
	return s, nil
}

func readJSONFile(path string) (any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	v, err := parseJSON(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return v, nil
}

// parseJSON decodes one JSON value (numbers as json.Number, as the validator
// wants) and rejects trailing data.
func parseJSON(b []byte) (any, error) {
	return jsonschema.UnmarshalJSON(bytes.NewReader(b))
}

// ---------------------------------------------------------------- inputs

// dashboard is one dashboard found in an input file. value is nil when it
// could not be parsed; problems then says why.
type dashboard struct {
	value    any
	problems []problem
}

func (d *dashboard) title() string {
	if m, ok := d.value.(map[string]any); ok {
		if t, ok := m["title"].(string); ok && t != "" {
			return t
		}
	}
	return "(untitled)"
}

func newDashboard(src []byte, where string) dashboard {
	v, err := parseJSON(src)
	if err != nil {
		return dashboard{problems: []problem{{"/", where + "invalid JSON: " + err.Error()}}}
	}
	return dashboard{value: v}
}

func readDashboards(file string) ([]dashboard, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	switch strings.ToLower(filepath.Ext(file)) {
	case ".json":
		return []dashboard{newDashboard(b, "")}, nil
	case ".yaml", ".yml":
		return yamlDashboards(b)
	default:
		return nil, errors.New("not a .json, .yaml or .yml file")
	}
}

// yamlDashboards takes every dashboard from a multi-document Kubernetes YAML
// stream: ConfigMap data keys ending in .json, GrafanaDashboard spec.json.
func yamlDashboards(b []byte) ([]dashboard, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var out []dashboard
	for n := 1; ; n++ {
		var obj map[string]any
		err := dec.Decode(&obj)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("YAML document %d: %v", n, err)
		}
		if obj == nil {
			continue
		}
		kindName, _ := obj["kind"].(string)
		meta, _ := obj["metadata"].(map[string]any)
		name, _ := meta["name"].(string)
		switch kindName {
		case "ConfigMap":
			data, _ := obj["data"].(map[string]any)
			keys := make([]string, 0, len(data))
			for k := range data {
				if strings.HasSuffix(k, ".json") {
					keys = append(keys, k)
				}
			}
			sort.Strings(keys)
			for _, k := range keys {
				where := fmt.Sprintf("ConfigMap %s data[%s]: ", name, k)
				s, ok := data[k].(string)
				if !ok {
					out = append(out, dashboard{problems: []problem{{"/", where + "not a string"}}})
					continue
				}
				out = append(out, newDashboard([]byte(s), where))
			}
		case "GrafanaDashboard":
			where := fmt.Sprintf("GrafanaDashboard %s spec.json: ", name)
			spec, _ := obj["spec"].(map[string]any)
			s, ok := spec["json"].(string)
			if !ok {
				out = append(out, dashboard{problems: []problem{{"/", where + "missing or not a string (only inline JSON dashboards can be checked)"}}})
				continue
			}
			out = append(out, newDashboard([]byte(s), where))
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no dashboards (no ConfigMap data key ending in .json, no GrafanaDashboard)")
	}
	return out, nil
}

// ---------------------------------------------------------------- checks

func (s *schemaSet) check(d any) []problem {
	var ps []problem
	ps = append(ps, schemaProblems("", s.dashboard.Validate(d))...)
	m, ok := d.(map[string]any)
	if !ok {
		return ps
	}
	c := &checker{schemas: s, vars: map[string]bool{}}
	c.collectVariables(m)
	c.checkUID(m)
	panels, _ := m["panels"].([]any)
	for i, p := range panels {
		c.checkPanel(fmt.Sprintf("/panels/%d", i), p, true)
	}
	c.checkAnnotations(m)
	c.checkLinks("/links", m["links"])
	c.checkVariableQueries(m)
	ps = append(ps, c.problems...)
	sort.SliceStable(ps, func(i, j int) bool { return pointerLess(ps[i].path, ps[j].path) })
	return ps
}

// pointerLess orders JSON pointers token by token, array indexes by number,
// so /panels/2 comes before /panels/10 and a panel's problems stay together.
func pointerLess(a, b string) bool {
	ta, tb := strings.Split(a, "/"), strings.Split(b, "/")
	for i := 0; i < len(ta) && i < len(tb); i++ {
		if ta[i] == tb[i] {
			continue
		}
		na, ea := strconv.Atoi(ta[i])
		nb, eb := strconv.Atoi(tb[i])
		if ea == nil && eb == nil {
			return na < nb
		}
		return ta[i] < tb[i]
	}
	return len(ta) < len(tb)
}

type checker struct {
	schemas  *schemaSet
	vars     map[string]bool
	panelIDs map[string]string // id -> pointer of the first panel with it
	problems []problem
}

func (c *checker) add(path, format string, args ...any) {
	c.problems = append(c.problems, problem{path, fmt.Sprintf(format, args...)})
}

func (c *checker) collectVariables(m map[string]any) {
	templating, _ := m["templating"].(map[string]any)
	list, _ := templating["list"].([]any)
	first := map[string]int{}
	for i, v := range list {
		vm, _ := v.(map[string]any)
		name, ok := vm["name"].(string)
		if !ok {
			continue
		}
		if j, dup := first[name]; dup {
			c.add(fmt.Sprintf("/templating/list/%d/name", i), "duplicate template variable %q (first at /templating/list/%d)", name, j)
			continue
		}
		first[name] = i
		c.vars[name] = true
	}
}

func (c *checker) checkUID(m map[string]any) {
	uid, ok := m["uid"].(string)
	switch {
	case !ok:
		c.add("/uid", "missing: a dashboard needs a stable uid")
	case len(uid) < 1 || len(uid) > 40:
		c.add("/uid", "%q must be 1 to 40 characters long, has %d", uid, len(uid))
	default:
		for _, r := range uid {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
				c.add("/uid", "%q may hold only [a-zA-Z0-9_-]", uid)
				break
			}
		}
	}
}

func (c *checker) checkPanel(path string, p any, topLevel bool) {
	pm, ok := p.(map[string]any)
	if !ok {
		return // the schema reports it
	}
	if id, ok := pm["id"]; ok {
		key := fmt.Sprint(id)
		if c.panelIDs == nil {
			c.panelIDs = map[string]string{}
		}
		if first, dup := c.panelIDs[key]; dup {
			c.add(path+"/id", "duplicate panel id %s (first at %s)", key, first)
		} else {
			c.panelIDs[key] = path
		}
	}
	if gp, ok := pm["gridPos"].(map[string]any); ok {
		x, okx := intOf(gp["x"])
		w, okw := intOf(gp["w"])
		if okx && okw && x+w > 24 {
			c.add(path+"/gridPos", "x+w = %d+%d = %d is wider than the 24-column grid", x, w, x+w)
		}
	}
	if r, ok := pm["repeat"].(string); ok && r != "" && !c.vars[r] && !builtins[r] {
		c.add(path+"/repeat", "repeats for undefined template variable %q", r)
	}
	c.checkDatasource(path+"/datasource", pm["datasource"])

	typ, _ := pm["type"].(string)
	if typ == "row" {
		if topLevel {
			children, _ := pm["panels"].([]any)
			for i, child := range children {
				c.checkPanel(fmt.Sprintf("%s/panels/%d", path, i), child, false)
			}
		}
		return
	}
	if typ == "" {
		return // the schema reports it
	}
	ps, ok := c.schemas.panels[typ]
	if !ok {
		known := make([]string, 0, len(c.schemas.panels))
		for k := range c.schemas.panels {
			known = append(known, k)
		}
		sort.Strings(known)
		c.add(path+"/type", "panel type %q has no schema to check it against (use one of: %s)", typ, strings.Join(known, ", "))
	} else {
		if opts, ok := pm["options"]; ok {
			c.problems = append(c.problems, schemaProblems(path+"/options", ps.options.Validate(opts))...)
		}
		if ps.fieldConfig != nil {
			fc, _ := pm["fieldConfig"].(map[string]any)
			defaults, _ := fc["defaults"].(map[string]any)
			if custom, ok := defaults["custom"]; ok {
				c.problems = append(c.problems, schemaProblems(path+"/fieldConfig/defaults/custom", ps.fieldConfig.Validate(custom))...)
			}
		}
	}
	targets, _ := pm["targets"].([]any)
	for i, t := range targets {
		tp := fmt.Sprintf("%s/targets/%d", path, i)
		c.problems = append(c.problems, schemaProblems(tp, c.schemas.target.Validate(t))...)
		tm, _ := t.(map[string]any)
		c.checkRefs(tp+"/expr", tm["expr"])
		c.checkRefs(tp+"/legendFormat", tm["legendFormat"])
		c.checkDatasource(tp+"/datasource", tm["datasource"])
	}
	c.checkLinks(path+"/links", pm["links"])
	if fc, ok := pm["fieldConfig"].(map[string]any); ok {
		if defaults, ok := fc["defaults"].(map[string]any); ok {
			c.checkLinks(path+"/fieldConfig/defaults/links", defaults["links"])
		}
	}
}

func (c *checker) checkAnnotations(m map[string]any) {
	ann, _ := m["annotations"].(map[string]any)
	list, _ := ann["list"].([]any)
	for i, a := range list {
		am, _ := a.(map[string]any)
		p := fmt.Sprintf("/annotations/list/%d", i)
		c.checkRefs(p+"/expr", am["expr"])
		if t, ok := am["target"].(map[string]any); ok { // newer Grafana keeps the query here
			c.checkRefs(p+"/target/expr", t["expr"])
		}
		c.checkDatasource(p+"/datasource", am["datasource"])
	}
}

func (c *checker) checkLinks(path string, links any) {
	list, _ := links.([]any)
	for i, l := range list {
		lm, _ := l.(map[string]any)
		c.checkRefs(fmt.Sprintf("%s/%d/url", path, i), lm["url"])
	}
}

func (c *checker) checkVariableQueries(m map[string]any) {
	templating, _ := m["templating"].(map[string]any)
	list, _ := templating["list"].([]any)
	for i, v := range list {
		vm, _ := v.(map[string]any)
		p := fmt.Sprintf("/templating/list/%d", i)
		c.checkRefs(p+"/query", vm["query"])
		c.checkDatasource(p+"/datasource", vm["datasource"])
	}
}

// checkDatasource checks a variable reference in a datasource uid, as in
// {"type": "prometheus", "uid": "${datasource}"}.
func (c *checker) checkDatasource(path string, ds any) {
	if dm, ok := ds.(map[string]any); ok {
		c.checkRefs(path+"/uid", dm["uid"])
	}
}

// checkRefs reports template variable references in v (a string, or any
// strings nested in it) that name no variable of the dashboard nor a Grafana
// built-in.
func (c *checker) checkRefs(path string, v any) {
	switch v := v.(type) {
	case string:
		for _, r := range findRefs(v) {
			if r.malformed {
				c.add(path, "malformed variable reference %q", r.text)
			} else if !c.vars[r.name] && !builtins[r.name] {
				c.add(path, "%s refers to undefined template variable %q", r.text, r.name)
			}
		}
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			c.checkRefs(path+"/"+escapePointer(k), v[k])
		}
	case []any:
		for i, e := range v {
			c.checkRefs(fmt.Sprintf("%s/%d", path, i), e)
		}
	}
}

// builtins are Grafana's global variables. A reference like
// ${__data.fields.slo} names __data.
var builtins = map[string]bool{}

func init() {
	for _, b := range []string{
		"__range", "__range_s", "__range_ms", "__rate_interval", "__rate_interval_ms",
		"__interval", "__interval_ms", "__from", "__to", "__dashboard", "__data",
		"__field", "__series", "__value", "__name", "__org", "__user",
		"__all_variables", "__url_time_range", "__timeFilter", "timeFilter", "__auto",
	} {
		builtins[b] = true
	}
}

// ref is one template variable reference found in a string.
type ref struct {
	text      string // as written
	name      string
	malformed bool
}

func isIdentStart(b byte) bool {
	return b == '_' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

func isIdent(b byte) bool { return isIdentStart(b) || b >= '0' && b <= '9' }

// findRefs finds Grafana's reference syntaxes: $name, ${name}, ${name:fmt},
// ${name.field.path} and [[name]] / [[name:fmt]]. A '$' not followed by '{'
// or a letter or underscore is not a reference, so PromQL regexes like
// =~"foo$" and label_replace's "$1" pass.
func findRefs(s string) []ref {
	var out []ref
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '$' && i+1 < len(s) && s[i+1] == '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				out = append(out, ref{text: s[i:], malformed: true})
				return out
			}
			body := s[i+2 : i+end]
			j := 0
			for j < len(body) && isIdent(body[j]) {
				j++
			}
			r := ref{text: s[i : i+end+1], name: body[:j]}
			if j == 0 || !isIdentStart(body[0]) || (j < len(body) && body[j] != ':' && body[j] != '.') {
				r.malformed = true
			}
			out = append(out, r)
			i += end
		case s[i] == '$' && i+1 < len(s) && isIdentStart(s[i+1]):
			j := i + 1
			for j < len(s) && isIdent(s[j]) {
				j++
			}
			out = append(out, ref{text: s[i:j], name: s[i+1 : j]})
			i = j - 1
		case s[i] == '[' && strings.HasPrefix(s[i:], "[[") && i+2 < len(s) && isIdentStart(s[i+2]):
			j := i + 2
			for j < len(s) && isIdent(s[j]) {
				j++
			}
			name := s[i+2 : j]
			if j < len(s) && s[j] == ':' {
				j++
				for j < len(s) && isIdent(s[j]) {
					j++
				}
			}
			if strings.HasPrefix(s[j:], "]]") {
				out = append(out, ref{text: s[i : j+2], name: name})
				i = j + 1
			}
		}
	}
	return out
}

func intOf(v any) (int64, bool) {
	switch n := v.(type) {
	case interface{ Int64() (int64, error) }: // json.Number
		i, err := n.Int64()
		return i, err == nil
	case float64:
		return int64(n), n == float64(int64(n))
	case int:
		return int64(n), true
	}
	return 0, false
}

func escapePointer(tok string) string {
	return strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1")
}

// ---------------------------------------------------------------- schema errors

// schemaProblems flattens a jsonschema validation error to its leaf causes,
// each located by a JSON pointer (prefix + the instance location). For a
// failed oneOf/anyOf only the most plausible alternative is followed, so a
// stat panel with a bad option is not also told what a row panel would need.
func schemaProblems(prefix string, err error) []problem {
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []problem{{rootIfEmpty(prefix), err.Error()}}
	}
	var out []problem
	seen := map[problem]bool{}
	for _, l := range leaves(ve) {
		p := problem{rootIfEmpty(prefix + pointer(l.InstanceLocation)), l.ErrorKind.LocalizedString(printer)}
		if l.msg != "" {
			p.msg = l.msg
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	if len(out) == 0 { // cannot happen, but never lose an error
		out = append(out, problem{rootIfEmpty(prefix), ve.Error()})
	}
	return out
}

type leaf struct {
	*jsonschema.ValidationError
	msg string // overrides the error kind's message when set
}

func leaves(e *jsonschema.ValidationError) []leaf {
	switch k := e.ErrorKind.(type) {
	case *kind.OneOf:
		if k.Subschemas != nil { // valid against more than one: a leaf
			return []leaf{{e, fmt.Sprintf("valid against more than one alternative (oneOf indexes %d and %d), must match exactly one", k.Subschemas[0], k.Subschemas[1])}}
		}
		return alternatives(e)
	case *kind.AnyOf:
		return alternatives(e)
	}
	if len(e.Causes) == 0 {
		return []leaf{{ValidationError: e}}
	}
	var out []leaf
	for _, c := range e.Causes {
		out = append(out, leaves(c)...)
	}
	return out
}

// alternatives picks the leaves of the branch of a failed oneOf/anyOf that
// most plausibly was meant: one not ruled out by a const or by a wrong type
// at the alternative's own location, with the fewest errors. When every
// branch only has the wrong type there, the leaf says which types would do.
func alternatives(e *jsonschema.ValidationError) []leaf {
	here := len(e.InstanceLocation)
	var got string
	var want []string
	onlyTypes := true
	var best []leaf
	bestScore := 0
	for _, c := range e.Causes {
		ls := leaves(c)
		ruledOut := false
		for _, l := range ls {
			switch k := l.ErrorKind.(type) {
			case *kind.Const:
				ruledOut = true
				onlyTypes = false
			case *kind.Type:
				if len(l.InstanceLocation) == here {
					ruledOut = true
					got = k.Got
					want = append(want, k.Want...)
				} else {
					onlyTypes = false
				}
			default:
				onlyTypes = false
			}
		}
		score := 1000000 - len(ls)
		if ruledOut {
			score = 1000 - len(ls)
		}
		if best == nil || score > bestScore {
			best, bestScore = ls, score
		}
	}
	if onlyTypes && len(want) > 0 {
		return []leaf{{e, fmt.Sprintf("got %s, want %s", got, strings.Join(dedupe(want), " or "))}}
	}
	if best == nil {
		return []leaf{{ValidationError: e}}
	}
	return best
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func pointer(tokens []string) string {
	var sb strings.Builder
	for _, t := range tokens {
		sb.WriteByte('/')
		sb.WriteString(escapePointer(t))
	}
	return sb.String()
}

// rootIfEmpty shows the whole document's pointer, "", as "/".
func rootIfEmpty(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

var printer = message.NewPrinter(language.English)
