package config

import (
	"fmt"

	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
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
	// Variables below a source or a channels.<name> block may name a channel's own
	// settings: they wait for the channel to decode its block (CheckEnvUsed).
	c.env = &envVars{vars: vars, used: used}
	var unknown []string
	for k := range vars {
		if !used[k] && !c.deferredEnv(k) {
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
			tag, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if f.IsExported() && tag == "" && opts == "inline" && f.Type.Kind() == reflect.Struct {
				if err := walkEnv(v.Field(i), path, vars, used); err != nil {
					return err
				}
				continue
			}
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

// deferredEnv reports whether k lies below a source's or a channel's own settings.
func (c *Config) deferredEnv(k string) bool {
	for i := range c.Sources {
		if strings.HasPrefix(k, fmt.Sprintf("%sSOURCES_%d_", EnvPrefix, i)) {
			return true
		}
	}
	for name := range c.Channels {
		if strings.HasPrefix(k, EnvPrefix+"CHANNELS_"+envName(name)+"_") {
			return true
		}
	}
	return false
}

func envName(s string) string { return strings.ToUpper(strings.ReplaceAll(s, "-", "_")) }

// CheckEnvUsed fails for every INSTROOM_ variable that no setting used, once the channels
// decoded their settings: a typo does not go unnoticed.
func (c *Config) CheckEnvUsed() error {
	if c.env == nil {
		return nil
	}
	var unknown []string
	for k := range c.env.vars {
		if !c.env.used[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	return fmt.Errorf("config: environment variable %s names no setting", strings.Join(unknown, ", "))
}

// settings prepares the channel-specific blocks for their channels to decode.
func (c *Config) settings() {
	for i := range c.Sources {
		s := &c.Sources[i]
		s.settings = &Settings{path: fmt.Sprintf("sources[%d]", i), envPath: fmt.Sprintf("%sSOURCES_%d", EnvPrefix, i), keys: s.Extra, dir: c.dir, env: c.env}
	}
	c.channels = map[string]*Settings{}
	for name, node := range c.Channels {
		keys := map[string]yaml.Node{}
		for j := 0; j+1 < len(node.Content); j += 2 {
			keys[node.Content[j].Value] = *node.Content[j+1]
		}
		c.channels[name] = &Settings{path: "channels." + name, envPath: EnvPrefix + "CHANNELS_" + envName(name), keys: keys, dir: c.dir, env: c.env}
	}
}

// KanaalSettings returns the channel's own keys of mapping.kanalen.<name> (its mapping
// hints), for the channel to decode; empty when there are none.
func (c *Config) KanaalSettings(name string) *Settings {
	if c.kanalen == nil {
		c.kanalen = map[string]*Settings{}
	}
	if s, ok := c.kanalen[name]; ok {
		return s
	}
	s := &Settings{path: "mapping.kanalen." + name, envPath: EnvPrefix + "MAPPING_KANALEN_" + envName(name), keys: c.Mapping.Kanalen[name].Extra, dir: c.dir, env: c.env}
	c.kanalen[name] = s
	return s
}

// ChannelSettings returns the channels.<name> block (empty when absent).
func (c *Config) ChannelSettings(name string) *Settings {
	if s, ok := c.channels[name]; ok {
		return s
	}
	s := &Settings{path: "channels." + name, envPath: EnvPrefix + "CHANNELS_" + envName(name), dir: c.dir, env: c.env}
	if c.channels == nil {
		c.channels = map[string]*Settings{}
	}
	c.channels[name] = s
	return s
}

// ChannelNames lists the names of the channels.<name> blocks, sorted.
func (c *Config) ChannelNames() []string {
	var out []string
	for k := range c.Channels {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
