package config

import (
	"encoding"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// problem is one bad key: its full path (gateways[0].max_channels), where
// it came from (a line of the file, or an environment variable) and what
// is wrong.
type problem struct {
	Key    string
	Line   int    // 0: not from the file
	Source string // the FAXD_ variable it came from, if any
	Msg    string
}

func (p *problem) Error() string {
	s := p.Key
	if p.Source != "" {
		s += " (from " + p.Source + ")"
	}
	if p.Line > 0 {
		s += fmt.Sprintf(": line %d", p.Line)
	}
	return s + ": " + p.Msg
}

var (
	yamlUnmarshaler = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
	textUnmarshaler = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()
)

// decodeValue decodes n into v the way yaml.v3 would, except that every
// mapping that becomes a struct, at any depth and in every list item or
// map value, is checked key by key: an unknown key is reported with its
// full path and the closest valid key, and decoding goes on to find the
// rest. yaml.v3's own KnownFields stops at the first problem and does not
// name the path, so the walk is done here.
func decodeValue(n *yaml.Node, v reflect.Value, path string, errs *[]error) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	t := v.Type()
	custom := reflect.PointerTo(t).Implements(yamlUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler)
	if custom {
		decodeLeaf(n, v, path, errs)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		decodeStruct(n, v, path, errs)
	case reflect.Pointer:
		if isNull(n) {
			v.Set(reflect.Zero(t))
			return
		}
		// A fresh value, so that decoding never writes through a pointer
		// that another Config (the defaults) shares.
		nv := reflect.New(t.Elem())
		if !v.IsNil() {
			nv.Elem().Set(v.Elem())
		}
		decodeValue(n, nv.Elem(), path, errs)
		v.Set(nv)
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			decodeLeaf(n, v, path, errs)
			return
		}
		if isNull(n) {
			v.Set(reflect.Zero(t))
			return
		}
		if n.Kind != yaml.SequenceNode {
			*errs = append(*errs, &problem{Key: path, Line: n.Line, Msg: "want a list"})
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, item := range n.Content {
			decodeValue(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i), errs)
		}
		v.Set(s)
	case reflect.Map:
		if isNull(n) {
			v.Set(reflect.Zero(t))
			return
		}
		if n.Kind != yaml.MappingNode {
			*errs = append(*errs, &problem{Key: path, Line: n.Line, Msg: "want a mapping"})
			return
		}
		m := reflect.MakeMapWithSize(t, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			kv := reflect.New(t.Key()).Elem()
			decodeLeaf(k, kv, join(path, k.Value), errs)
			ev := reflect.New(t.Elem()).Elem()
			decodeValue(val, ev, join(path, k.Value), errs)
			m.SetMapIndex(kv, ev)
		}
		v.Set(m)
	default:
		decodeLeaf(n, v, path, errs)
	}
}

// decodeStruct decodes a mapping into the struct v field by field, keeping
// the values of the keys the mapping does not name (the defaults).
func decodeStruct(n *yaml.Node, v reflect.Value, path string, errs *[]error) {
	if n.Kind != yaml.MappingNode {
		if !isNull(n) {
			*errs = append(*errs, &problem{Key: path, Line: n.Line, Msg: "want a mapping of keys"})
		}
		return
	}
	fields := structFields(v.Type())
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := join(path, k.Value)
		if line, dup := seen[k.Value]; dup {
			*errs = append(*errs, &problem{Key: key, Line: k.Line, Msg: fmt.Sprintf("given twice (first on line %d)", line)})
			continue
		}
		seen[k.Value] = k.Line
		idx, ok := fields[k.Value]
		if !ok {
			*errs = append(*errs, &problem{Key: key, Line: k.Line, Msg: "no such configuration key" + suggestKey(k.Value, keysOf(fields))})
			continue
		}
		decodeValue(val, v.FieldByIndex(idx), key, errs)
	}
}

// structFields maps each YAML key of t to its field, with ",inline"
// structs' keys at t's level as yaml.v3 has them.
func structFields(t reflect.Type) map[string][]int {
	fields := map[string][]int{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") && f.Type.Kind() == reflect.Struct {
			for k, idx := range structFields(f.Type) {
				fields[k] = append([]int{i}, idx...)
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = []int{i}
	}
	return fields
}

func keysOf(fields map[string][]int) []string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// decodeLeaf decodes a value yaml.v3 handles on its own: a scalar, or a
// type with its own unmarshaling.
func decodeLeaf(n *yaml.Node, v reflect.Value, path string, errs *[]error) {
	target := reflect.New(v.Type())
	if err := n.Decode(target.Interface()); err != nil {
		msg := fmt.Sprintf("%q is not a valid %s", n.Value, typeName(v))
		if reflect.PointerTo(v.Type()).Implements(yamlUnmarshaler) {
			msg = err.Error() // the type's own explanation
		}
		*errs = append(*errs, &problem{Key: path, Line: n.Line, Msg: msg})
		return
	}
	v.Set(target.Elem())
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

func typeName(v reflect.Value) string {
	switch v.Interface().(type) {
	case Duration:
		return "duration (for example 30s, 5m, 2h, 30d)"
	case time.Duration:
		return "duration (for example 500ms, 30s, 5m, 2h)"
	}
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Bool:
		return "boolean (true or false)"
	case reflect.Slice:
		return "list"
	case reflect.Map, reflect.Struct:
		return "mapping"
	}
	return v.Kind().String()
}

// suggestKey names the valid key closest to a misspelt one, or lists the
// valid keys when none is close: either way the operator learns the fix
// from the message alone.
func suggestKey(key string, valid []string) string {
	if best, ok := closest(key, valid); ok {
		return " (did you mean " + best + "?)"
	}
	if len(valid) == 0 {
		return ""
	}
	return "; valid keys here: " + strings.Join(valid, ", ")
}

// closest returns the candidate nearest to s in edit distance (letter
// case ignored), if it is near enough to be a likely misspelling: one
// edit for short words, about one per four letters for longer ones.
func closest(s string, candidates []string) (string, bool) {
	s = strings.ToLower(s)
	best, bestD := "", -1
	for _, c := range candidates {
		d := editDistance(s, strings.ToLower(c))
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	limit := max(1, len(s)/4)
	if len(s) > 4 {
		limit = max(2, limit)
	}
	return best, bestD >= 0 && bestD <= limit
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and swaps of neighbouring letters (the commonest
// typing slip) each count one.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
