package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Settings is a block of configuration that belongs to a channel: the channel-specific
// keys of a source, or a channels.<name> block. The configuration keeps it as YAML until
// the channel decodes it with Decoder into its own struct; from then on it prints that
// struct (secrets hidden).
type Settings struct {
	path    string // YAML path, e.g. "sources[0]" or "channels.email"
	envPath string // environment prefix, e.g. "INSTROOM_SOURCES_0"
	keys    map[string]yaml.Node
	decoded any
	dir     string
	env     *envVars
}

// envVars are the INSTROOM_ variables; each is used at most once, and one no setting
// uses is an error (CheckEnvUsed).
type envVars struct {
	vars map[string]string
	used map[string]bool
}

// Decoder returns the function a channel decodes this block with: strict (an unknown key
// is an error naming its path and line), then environment overrides below the block's
// prefix, then *_file secrets. v must be a pointer to a struct with yaml tags; string
// fields tagged `secret:"true"` are secrets.
func (s *Settings) Decoder() func(v any) error {
	return func(v any) error {
		rv := reflect.ValueOf(v)
		if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
			return fmt.Errorf("config: %s: settings must decode into a struct pointer", s.path)
		}
		var errs []error
		names := make([]string, 0, len(s.keys))
		for k := range s.keys {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			node := s.keys[k]
			f, ok := fieldByTag(rv.Elem(), k)
			if !ok {
				errs = append(errs, fmt.Errorf("%s.%s: unknown key (line %d)", s.path, k, node.Line))
				continue
			}
			if err := checkKnown(&node, f.Type(), s.path+"."+k); err != nil {
				errs = append(errs, err)
				continue
			}
			if err := node.Decode(f.Addr().Interface()); err != nil {
				errs = append(errs, decodeError(err, &node, s.path+"."+k))
			}
		}
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
		if s.env != nil {
			if err := walkEnv(rv.Elem(), s.envPath, s.env.vars, s.env.used); err != nil {
				return err
			}
		}
		if err := walkSecrets(rv, s.path, s.dir); err != nil {
			return err
		}
		resolvePaths(rv, s.dir)
		s.decoded = v
		return nil
	}
}

var yamlLine = regexp.MustCompile(`^yaml: (unmarshal errors:\s*)?`)

func yamlErr(err error) string {
	return strings.TrimSpace(yamlLine.ReplaceAllString(err.Error(), ""))
}

// fieldByTag finds the struct field with the given yaml key.
func fieldByTag(v reflect.Value, key string) (reflect.Value, bool) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		if tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]; tag == key && t.Field(i).IsExported() {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

// checkKnown reports keys of node that the type t has no field for, recursively, with
// their path and line.
func checkKnown(node *yaml.Node, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if node.Kind == yaml.AliasNode && node.Alias != nil {
		node = node.Alias
	}
	var errs []error
	switch {
	case t.Kind() == reflect.Struct && node.Kind == yaml.MappingNode:
		fields := map[string]reflect.Type{}
		for i := 0; i < t.NumField(); i++ {
			if tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]; tag != "" && tag != "-" {
				fields[tag] = t.Field(i).Type
			}
		}
		for i := 0; i+1 < len(node.Content); i += 2 {
			k := node.Content[i].Value
			ft, ok := fields[k]
			if !ok {
				errs = append(errs, fmt.Errorf("%s.%s: unknown key (line %d)", path, k, node.Content[i].Line))
				continue
			}
			errs = append(errs, checkKnown(node.Content[i+1], ft, path+"."+k))
		}
	case t.Kind() == reflect.Slice && node.Kind == yaml.SequenceNode:
		for i, n := range node.Content {
			errs = append(errs, checkKnown(n, t.Elem(), fmt.Sprintf("%s[%d]", path, i)))
		}
	case t.Kind() == reflect.Map && node.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(node.Content); i += 2 {
			errs = append(errs, checkKnown(node.Content[i+1], t.Elem(), path+"."+node.Content[i].Value))
		}
	}
	return errors.Join(errs...)
}

// MarshalYAML prints the decoded settings with secrets hidden, or, before a channel
// decoded them, the raw keys with every value of a key that looks secret hidden.
func (s Settings) MarshalYAML() (any, error) {
	if s.decoded != nil {
		return hideSecrets(reflect.ValueOf(s.decoded)).Interface(), nil
	}
	out := map[string]any{}
	for k, n := range s.keys {
		if secretish(k) {
			out[k] = hidden
			continue
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, err
		}
		out[k] = hideSecretish(v)
	}
	return out, nil
}

func secretish(k string) bool {
	k = strings.ToLower(k)
	for _, w := range []string{"password", "secret", "token", "key"} {
		if strings.Contains(k, w) && !strings.HasSuffix(k, "_file") {
			return true
		}
	}
	return false
}

func hideSecretish(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if secretish(k) {
				x[k] = hidden
			} else {
				x[k] = hideSecretish(e)
			}
		}
	case []any:
		for i, e := range x {
			x[i] = hideSecretish(e)
		}
	}
	return v
}

// hideSecrets returns a copy of v (a pointer to a struct) with every secret-tagged string
// replaced by <secret>.
func hideSecrets(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type().Elem())
		out.Elem().Set(hideSecrets(v.Elem()))
		return out
	case reflect.Struct:
		out := reflect.New(v.Type()).Elem()
		out.Set(v)
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			if f.Tag.Get("secret") == "true" && f.Type.Kind() == reflect.String && v.Field(i).String() != "" {
				out.Field(i).SetString(hidden)
				continue
			}
			out.Field(i).Set(hideSecrets(v.Field(i)))
		}
		return out
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := 0; i < v.Len(); i++ {
			out.Index(i).Set(hideSecrets(v.Index(i)))
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeMap(v.Type())
		for _, k := range v.MapKeys() {
			out.SetMapIndex(k, hideSecrets(v.MapIndex(k)))
		}
		return out
	}
	return v
}

// resolvePaths makes every relative string field tagged `path:"true"` absolute against
// dir (the configuration file's directory).
func resolvePaths(v reflect.Value, dir string) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			resolvePaths(v.Elem(), dir)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			resolvePaths(v.Index(i), dir)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			if f.Tag.Get("path") == "true" && f.Type.Kind() == reflect.String {
				if p := v.Field(i).String(); p != "" && !filepath.IsAbs(p) {
					v.Field(i).SetString(filepath.Join(dir, p))
				}
				continue
			}
			resolvePaths(v.Field(i), dir)
		}
	}
}

// Decoded reports whether a channel decoded the block.
func (s *Settings) Decoded() bool { return s.decoded != nil }

// Empty reports whether the block has no keys.
func (s *Settings) Empty() bool { return len(s.keys) == 0 }
