package intakeapi

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// route is one endpoint: a method and a path of literal segments and {wildcards}. The
// Server matches paths itself rather than with http.ServeMux, which redirects unclean
// paths and answers 405 without the headers and problem body of the contract.
type route struct {
	method   string
	path     string   // the pattern's path, e.g. /v1/brieven/{scanId}
	segs     []string // segments; a wildcard is "{name}"
	channel  string   // the channel a vendor needs; "" for a public route
	resource string   // the metrics label
	maxBytes int64
	handler  http.Handler
}

// parsePattern reads "METHOD /path/{x}" (a method is required; no trailing slash, no
// empty segment, no "{x...}").
func parsePattern(p string) (method, path string, segs []string, err error) {
	method, path, ok := strings.Cut(p, " ")
	if !ok || method == "" || strings.ToUpper(method) != method || !strings.HasPrefix(path, "/") || len(path) < 2 {
		return "", "", nil, fmt.Errorf("intake route %q: want \"METHOD /path\"", p)
	}
	segs = strings.Split(path[1:], "/")
	for _, s := range segs {
		if s == "" || strings.Contains(s, "...") || (strings.ContainsAny(s, "{}") && !isWildcard(s)) {
			return "", "", nil, fmt.Errorf("intake route %q: bad path segment", p)
		}
	}
	return method, path, segs, nil
}

func isWildcard(s string) bool {
	return len(s) > 2 && s[0] == '{' && s[len(s)-1] == '}' && !strings.ContainsAny(s[1:len(s)-1], "{}")
}

// resourceOf names a route for metrics: its path below /v1 with wildcards kept, so the
// label values are the fixed set of routes ("brieven", "brieven/{scanId}").
func resourceOf(path string) string {
	return strings.TrimPrefix(strings.TrimPrefix(path, "/v1"), "/")
}

// matchPath matches the request path against segs, setting the wildcard values on r. It
// works on the escaped path so an escaped slash stays inside its segment.
func matchPath(segs []string, escaped string) (map[string]string, bool) {
	if !strings.HasPrefix(escaped, "/") {
		return nil, false
	}
	parts := strings.Split(escaped[1:], "/")
	if len(parts) != len(segs) {
		return nil, false
	}
	var vals map[string]string
	for i, s := range segs {
		p, err := url.PathUnescape(parts[i])
		if err != nil || p == "" {
			return nil, false
		}
		if isWildcard(s) {
			if vals == nil {
				vals = map[string]string{}
			}
			vals[s[1:len(s)-1]] = p
		} else if p != s || parts[i] != s {
			return nil, false
		}
	}
	return vals, true
}

// match finds the route of r. With no route for its method it returns the methods the
// path has (for 405 and Allow), none when the path is unknown (404).
func match(routes []*route, r *http.Request) (*route, map[string]string, []string) {
	escaped := r.URL.EscapedPath()
	var allow []string
	for _, rt := range routes {
		vals, ok := matchPath(rt.segs, escaped)
		if !ok {
			continue
		}
		if rt.method == r.Method {
			return rt, vals, nil
		}
		allow = append(allow, rt.method)
	}
	sort.Strings(allow)
	return nil, nil, allow
}
