package config

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// yaml.v3 reports a value of the wrong type as "line N: cannot unmarshal !!tag `value`
// into GoType" and an unknown key as "line N: field k not found in type T": it names the
// line and a Go type, not the YAML path and what was expected. These turn such errors
// into "limits.max_message_bytes (line 6): expected a whole number, got a string" by
// finding the node at that line in the YAML tree.
var (
	yamlTypeErr    = regexp.MustCompile("^line (\\d+): cannot unmarshal (!!\\w+) `(.*)` into (.+)$")
	yamlUnknownKey = regexp.MustCompile(`^line (\d+): field (.+) not found in type .+$`)
)

// decodeError rewrites a decode error of the YAML below root (whose path is at, "" for
// the whole file) so that each message names the YAML path and what was expected. Errors
// it does not recognise are returned as they are, without yaml.v3's "yaml: " prefix.
func decodeError(err error, root *yaml.Node, at string) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return errors.New(yamlErr(err))
	}
	errs := make([]error, 0, len(te.Errors))
	for _, msg := range te.Errors {
		errs = append(errs, errors.New(describeYAMLErr(msg, root, at)))
	}
	return errors.Join(errs...)
}

func describeYAMLErr(msg string, root *yaml.Node, at string) string {
	if m := yamlTypeErr.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		path, ok := findValue(root, at, line, m[2], m[3])
		if !ok {
			path = at
		}
		return fmt.Sprintf("%s: expected %s, got %s", where(path, line), expected(m[4]), got(m[2]))
	}
	if m := yamlUnknownKey.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		path, ok := findKey(root, at, line, m[2])
		if !ok {
			path = join(at, m[2])
		}
		return fmt.Sprintf("%s: unknown key", where(path, line))
	}
	return msg
}

func where(path string, line int) string {
	if path == "" {
		return fmt.Sprintf("line %d", line)
	}
	return fmt.Sprintf("%s (line %d)", path, line)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// expected describes the Go type a value was decoded into in the words of the config.
func expected(goType string) string {
	t := strings.TrimLeft(goType, "*")
	switch {
	case t == "time.Duration":
		return "a duration such as 30s or 5m"
	case t == "bool":
		return "true or false"
	case t == "string":
		return "a string"
	case strings.HasPrefix(t, "int") || strings.HasPrefix(t, "uint"):
		return "a whole number"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["), strings.Contains(t, "."):
		return "a mapping of keys and values"
	}
	return t
}

// got describes the YAML tag of the value that was given.
func got(tag string) string {
	switch tag {
	case "!!str":
		return "a string"
	case "!!int":
		return "a whole number"
	case "!!float":
		return "a number"
	case "!!bool":
		return "true or false"
	case "!!null":
		return "nothing (null)"
	case "!!seq":
		return "a list"
	case "!!map":
		return "a mapping"
	case "!!timestamp":
		return "a date"
	}
	return strings.TrimPrefix(tag, "!!")
}

// findValue returns the path of the deepest value node on line with the given tag (and,
// for a scalar, the value as yaml.v3 quoted it, cut to 7 characters and "..." when long).
func findValue(root *yaml.Node, at string, line int, tag, value string) (string, bool) {
	var found string
	var ok bool
	walkYAML(root, at, func(n *yaml.Node, path string, _ *yaml.Node) {
		if n.Line != line || n.ShortTag() != tag {
			return
		}
		if n.Kind == yaml.ScalarNode && !sameValue(n.Value, value) {
			return
		}
		found, ok = path, true
	})
	return found, ok
}

func sameValue(v, quoted string) bool {
	if p, cut := strings.CutSuffix(quoted, "..."); cut && len(v) > 10 {
		return strings.HasPrefix(v, p)
	}
	return v == quoted
}

// findKey returns the path of the mapping key named key on line.
func findKey(root *yaml.Node, at string, line int, key string) (string, bool) {
	var found string
	var ok bool
	walkYAML(root, at, func(_ *yaml.Node, path string, k *yaml.Node) {
		if k != nil && k.Line == line && k.Value == key {
			found, ok = path, true
		}
	})
	return found, ok
}

// walkYAML calls f for every node below n in document order with its path, and for a
// mapping value with its key node.
func walkYAML(n *yaml.Node, path string, f func(n *yaml.Node, path string, key *yaml.Node)) {
	var walk func(n *yaml.Node, path string, key *yaml.Node, depth int)
	walk = func(n *yaml.Node, path string, key *yaml.Node, depth int) {
		if n == nil || depth > 100 {
			return
		}
		f(n, path, key)
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path, nil, depth+1)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i+1], join(path, n.Content[i].Value), n.Content[i], depth+1)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, fmt.Sprintf("%s[%d]", path, i), nil, depth+1)
			}
		}
	}
	walk(n, path, nil, 0)
}
