package api

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// The checker below covers exactly the JSON Schema keywords
// schemas/openapi.yaml uses; an unknown keyword fails the test, so the
// file cannot drift beyond what is checked.

type openAPI struct {
	doc map[string]any
}

var (
	specOnce sync.Once
	specDoc  *openAPI
	specErr  error
)

func loadSpec(t testing.TB) *openAPI {
	t.Helper()
	specOnce.Do(func() {
		b, err := os.ReadFile("../../schemas/openapi.yaml")
		if err != nil {
			specErr = err
			return
		}
		var m map[string]any
		if specErr = yaml.Unmarshal(b, &m); specErr == nil {
			specDoc = &openAPI{doc: m}
		}
	})
	if specErr != nil {
		t.Fatalf("openapi.yaml: %v", specErr)
	}
	return specDoc
}

func (s *openAPI) paths() map[string]any { return s.doc["paths"].(map[string]any) }

// deref follows $ref to #/components/...
func (s *openAPI) deref(n any) map[string]any {
	m, _ := n.(map[string]any)
	for m != nil {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		var cur any = s.doc
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			cur = cur.(map[string]any)[part]
		}
		m, _ = cur.(map[string]any)
	}
	return m
}

var httpMethods = []string{"get", "put", "post", "delete", "patch", "head", "options"}

// template finds the documented path template matching a request path.
func (s *openAPI) template(path string) (string, bool) {
	segs := strings.Split(path, "/")
	for tmpl := range s.paths() {
		ts := strings.Split(tmpl, "/")
		if len(ts) != len(segs) {
			continue
		}
		ok := true
		for i := range ts {
			if !(strings.HasPrefix(ts[i], "{") && segs[i] != "") && ts[i] != segs[i] {
				ok = false
				break
			}
		}
		if ok {
			return tmpl, true
		}
	}
	return "", false
}

// checkResponse holds one answer to the document: status documented,
// content type documented, JSON body valid against the schema.
func (s *openAPI) checkResponse(method, path string, status int, header http.Header, body []byte) []string {
	tmpl, ok := s.template(path)
	if !ok {
		return nil // undocumented path: the 404 fallback, checked by tests
	}
	op, ok := s.paths()[tmpl].(map[string]any)[strings.ToLower(method)].(map[string]any)
	if !ok {
		return nil // undocumented method: the 405 fallback
	}
	resp := s.deref(op["responses"].(map[string]any)[fmt.Sprint(status)])
	if resp == nil {
		return []string{fmt.Sprintf("%s %s: status %d is not documented", method, tmpl, status)}
	}
	content, _ := resp["content"].(map[string]any)
	if content == nil {
		if len(body) > 0 {
			return []string{fmt.Sprintf("%s %s %d: documented without a body, got %q", method, tmpl, status, body)}
		}
		return nil
	}
	mt, _, _ := mime.ParseMediaType(header.Get("Content-Type"))
	media, ok := content[mt].(map[string]any)
	if !ok {
		media, ok = content["*/*"].(map[string]any)
	}
	if !ok {
		return []string{fmt.Sprintf("%s %s %d: content type %q not documented", method, tmpl, status, mt)}
	}
	if mt != "application/json" && mt != "application/problem+json" {
		return nil
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return []string{fmt.Sprintf("%s %s %d: body is not JSON: %v", method, tmpl, status, err)}
	}
	var errs []string
	s.validate(media["schema"], v, "$", &errs)
	for i := range errs {
		errs[i] = fmt.Sprintf("%s %s %d: %s", method, tmpl, status, errs[i])
	}
	return errs
}

var annotations = map[string]bool{"description": true, "default": true, "writeOnly": true, "contentMediaType": true, "title": true}

func (s *openAPI) validate(node, v any, at string, errs *[]string) {
	sch := s.deref(node)
	bad := func(f string, a ...any) { *errs = append(*errs, at+": "+fmt.Sprintf(f, a...)) }
	for k := range sch {
		switch k {
		case "type", "enum", "required", "properties", "additionalProperties", "items", "minimum", "maximum",
			"minLength", "maxLength", "format":
		default:
			if !annotations[k] {
				bad("schema keyword %q is not supported by the test's checker", k)
			}
		}
	}
	if t, ok := sch["type"]; ok {
		types := []string{}
		switch t := t.(type) {
		case string:
			types = append(types, t)
		case []any:
			for _, x := range t {
				types = append(types, x.(string))
			}
		}
		if !slices.ContainsFunc(types, func(ty string) bool { return jsonType(v, ty) }) {
			bad("want %v, got %T (%v)", types, v, v)
			return
		}
	}
	if e, ok := sch["enum"].([]any); ok && !slices.ContainsFunc(e, func(x any) bool { return fmt.Sprint(x) == fmt.Sprint(v) }) {
		bad("%v is not one of %v", v, e)
	}
	if n, ok := v.(float64); ok {
		if m, ok := num(sch["minimum"]); ok && n < m {
			bad("%v below minimum %v", n, m)
		}
		if m, ok := num(sch["maximum"]); ok && n > m {
			bad("%v above maximum %v", n, m)
		}
	}
	if str, ok := v.(string); ok {
		if m, ok := num(sch["minLength"]); ok && float64(len([]rune(str))) < m {
			bad("%q shorter than %v", str, m)
		}
		if m, ok := num(sch["maxLength"]); ok && float64(len([]rune(str))) > m {
			bad("%q longer than %v", str, m)
		}
		switch sch["format"] {
		case "date-time":
			if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
				bad("%q is not a date-time", str)
			}
		case "uri":
			if !regexp.MustCompile(`^[a-z][a-z0-9+.-]*:`).MatchString(str) {
				bad("%q is not a URI", str)
			}
		}
	}
	if obj, ok := v.(map[string]any); ok {
		props, _ := sch["properties"].(map[string]any)
		if req, ok := sch["required"].([]any); ok {
			for _, r := range req {
				if _, ok := obj[r.(string)]; !ok {
					bad("required property %q missing", r)
				}
			}
		}
		for k, val := range obj {
			if p, ok := props[k]; ok {
				s.validate(p, val, at+"."+k, errs)
				continue
			}
			switch ap := sch["additionalProperties"].(type) {
			case bool:
				if !ap {
					bad("property %q is not documented", k)
				}
			case map[string]any:
				s.validate(ap, val, at+"."+k, errs)
			}
		}
	}
	if arr, ok := v.([]any); ok && sch["items"] != nil {
		for i, x := range arr {
			s.validate(sch["items"], x, fmt.Sprintf("%s[%d]", at, i), errs)
		}
	}
}

func num(x any) (float64, bool) {
	switch x := x.(type) {
	case int:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

func jsonType(v any, t string) bool {
	switch t {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "number":
		_, ok := v.(float64)
		return ok
	case "integer":
		n, ok := v.(float64)
		return ok && n == float64(int64(n))
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "null":
		return v == nil
	}
	return false
}

// Every served route is documented and every documented operation served.
func TestOpenAPIRoutes(t *testing.T) {
	s := loadSpec(t)
	if _, err := New(Config{}, Deps{}); err == nil {
		t.Fatal("New without a pool must fail")
	}
	served := map[string]bool{}
	for _, rt := range newEnv(t, Config{}).api.routes {
		key := strings.ToLower(rt.method) + " " + rt.pattern
		served[key] = true
		p, ok := s.paths()[rt.pattern].(map[string]any)
		if !ok {
			t.Errorf("served %s %s: path not in openapi.yaml", rt.method, rt.pattern)
			continue
		}
		if _, ok := p[strings.ToLower(rt.method)]; !ok {
			t.Errorf("served %s %s: method not in openapi.yaml", rt.method, rt.pattern)
		}
	}
	for path, item := range s.paths() {
		for _, m := range httpMethods {
			if _, ok := item.(map[string]any)[m]; ok && !served[m+" "+path] {
				t.Errorf("documented %s %s is not served", strings.ToUpper(m), path)
			}
		}
	}
	if len(served) < 20 {
		t.Fatalf("only %d routes served", len(served))
	}
}

// The checker itself must catch what it claims to.
func TestOpenAPIChecker(t *testing.T) {
	s := loadSpec(t)
	h := http.Header{"Content-Type": {"application/json"}}
	good := `{"id":1,"name":"gw","address":"10.0.0.1","max_channels":0,"username":"","has_password":true,"enabled":true,"created_at":"2024-01-01T00:00:00Z","updated_at":"2024-01-01T00:00:00Z"}`
	if errs := s.checkResponse("GET", "/v1/gateways/gw", 200, h, []byte(strings.Replace(good, `"id":1,`, "", 1))); len(errs) != 0 {
		t.Fatalf("valid gateway refused: %v", errs)
	}
	for name, body := range map[string]string{
		"extra property (a password!)": strings.Replace(good, `"id":1,`, `"password":"x",`, 1),
		"missing required":             strings.Replace(good, `"name":"gw",`, "", 1),
		"wrong type":                   strings.Replace(good, `"max_channels":0`, `"max_channels":"0"`, 1),
		"bad date":                     strings.Replace(good, `2024-01-01T00:00:00Z"}`, `yesterday"}`, 1),
		"below minimum":                strings.Replace(good, `"max_channels":0`, `"max_channels":-1`, 1),
	} {
		body = strings.Replace(body, `"id":1,`, "", 1)
		if errs := s.checkResponse("GET", "/v1/gateways/gw", 200, h, []byte(body)); len(errs) == 0 {
			t.Errorf("%s: accepted %s", name, body)
		}
	}
	if errs := s.checkResponse("GET", "/v1/gateways/gw", 418, h, []byte(good)); len(errs) == 0 {
		t.Error("undocumented status accepted")
	}
	if errs := s.checkResponse("GET", "/v1/gateways/gw", 200, http.Header{"Content-Type": {"text/html"}}, []byte(good)); len(errs) == 0 {
		t.Error("undocumented content type accepted")
	}
	if errs := s.checkResponse("DELETE", "/v1/gateways/gw", 204, h, []byte("x")); len(errs) == 0 {
		t.Error("body on a bodiless response accepted")
	}
}
