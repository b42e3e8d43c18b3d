package config

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// EnvPrefix starts every environment override.
const EnvPrefix = "INSTROOM_"

// applyEnv sets fields from INSTROOM_<PATH> variables. The path is the YAML keys in upper
// case joined by '_', with list indexes as numbers: INSTROOM_SOURCES_0_PATH. Lists of
// strings take comma-separated values. A variable with the prefix that names no field is
// an error, so a typo does not go unnoticed.
func applyEnv(c *Config, environ []string) error {
	vars := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(k, EnvPrefix) && k != EnvPrefix+"CONFIG" {
			vars[k] = v
		}
	}
	if len(vars) == 0 {
		return nil
	}
	used := map[string]bool{}
	if err := walkEnv(reflect.ValueOf(c).Elem(), strings.TrimSuffix(EnvPrefix, "_"), vars, used); err != nil {
		return err
	}
	var unknown []string
	for k := range vars {
		if !used[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("config: environment variable %s names no setting", strings.Join(unknown, ", "))
	}
	return nil
}

var durationType = reflect.TypeOf(time.Duration(0))

func walkEnv(v reflect.Value, path string, vars map[string]string, used map[string]bool) error {
	switch v.Kind() {
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if !f.IsExported() || tag == "" || tag == "-" {
				continue
			}
			if err := walkEnv(v.Field(i), path+"_"+strings.ToUpper(tag), vars, used); err != nil {
				return err
			}
		}
		return nil
	case reflect.Pointer:
		if v.IsNil() {
			if !hasPrefix(vars, path+"_") {
				return nil
			}
			v.Set(reflect.New(v.Type().Elem()))
		}
		return walkEnv(v.Elem(), path, vars, used)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Struct {
			for i := 0; i < v.Len(); i++ {
				if err := walkEnv(v.Index(i), fmt.Sprintf("%s_%d", path, i), vars, used); err != nil {
					return err
				}
			}
			return nil
		}
	case reflect.Map:
		return nil // maps are configured in the file only
	}
	s, ok := vars[path]
	if !ok {
		return nil
	}
	used[path] = true
	if err := setScalar(v, s); err != nil {
		return fmt.Errorf("config: environment variable %s: %w", path, err)
	}
	return nil
}

func hasPrefix(vars map[string]string, p string) bool {
	for k := range vars {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

func setScalar(v reflect.Value, s string) error {
	if v.Type() == durationType {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("not a duration")
		}
		v.SetInt(int64(d))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("not a boolean")
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("not a whole number")
		}
		v.SetInt(n)
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("cannot be set from the environment")
		}
		var list []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				list = append(list, p)
			}
		}
		v.Set(reflect.ValueOf(list))
	default:
		return fmt.Errorf("cannot be set from the environment")
	}
	return nil
}
