package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
)

// Secret is a configuration value that must never be printed: it renders as <secret> in
// String, fmt, YAML and JSON. Every Secret field x can be given as x_file instead: the
// path of a file holding the secret (trailing newlines are removed).
type Secret string

const hidden = "<secret>"

// String implements fmt.Stringer.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return hidden
}

// GoString implements fmt.GoStringer.
func (s Secret) GoString() string { return s.String() }

// MarshalYAML hides the secret.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalJSON hides the secret.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// Value returns the secret itself, for the code that uses it.
func (s Secret) Value() string { return string(s) }

var secretType = reflect.TypeOf(Secret(""))

// ResolveSecretFiles fills every Secret field x (or string field tagged secret:"true") in
// the struct c points at from its sibling string field x_file, resolved against dir.
// Giving both is an error. Load calls it.
func ResolveSecretFiles(c any, dir string) error {
	return walkSecrets(reflect.ValueOf(c), "", dir)
}

func walkSecrets(v reflect.Value, path, dir string) error {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return walkSecrets(v.Elem(), path, dir)
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			if err := walkSecrets(v.Index(i), fmt.Sprintf("%s[%d]", path, i), dir); err != nil {
				return err
			}
		}
	case reflect.Struct:
		t := v.Type()
		tags := map[string]int{}
		for i := 0; i < t.NumField(); i++ {
			tags[strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]] = i
		}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
			at := strings.TrimPrefix(path+"."+tag, ".")
			if tag == "" {
				at = path
			}
			if f.Type == secretType || (f.Type.Kind() == reflect.String && f.Tag.Get("secret") == "true") {
				j, ok := tags[tag+"_file"]
				if !ok || t.Field(j).Type.Kind() != reflect.String {
					continue
				}
				file := v.Field(j).String()
				if file == "" {
					continue
				}
				if v.Field(i).String() != "" {
					return fmt.Errorf("config: %s and %s_file are both set; use one", at, at)
				}
				if !strings.HasPrefix(file, "/") {
					file = dir + "/" + file
				}
				b, err := os.ReadFile(file)
				if err != nil {
					return fmt.Errorf("config: %s_file: cannot read the secret file %s: %w", at, file, errors.Unwrap(err))
				}
				v.Field(i).SetString(strings.TrimRight(string(b), "\r\n"))
				continue
			}
			if err := walkSecrets(v.Field(i), at, dir); err != nil {
				return err
			}
		}
	}
	return nil
}
