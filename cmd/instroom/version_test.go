package main

import (
	"runtime/debug"
	"testing"
)

func TestBuildVersion(t *testing.T) {
	vcs := func(kv ...string) []debug.BuildSetting {
		var out []debug.BuildSetting
		for i := 0; i+1 < len(kv); i += 2 {
			out = append(out, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return out
	}
	rev := "3f2a1c9d0e8b7a6f5e4d3c2b1a0f9e8d7c6b5a49"
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{"no build info", nil, "dev"},
		{"release", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, "v1.2.3"},
		{"devel without vcs", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "dev"},
		{"devel clean", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"},
			Settings: vcs("vcs.revision", rev, "vcs.time", "2026-11-26T12:00:00Z", "vcs.modified", "false")},
			"dev-3f2a1c9 (2026-11-26T12:00:00Z)"},
		{"devel dirty", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"},
			Settings: vcs("vcs.revision", rev, "vcs.time", "2026-11-26T12:00:00Z", "vcs.modified", "true")},
			"dev-3f2a1c9 (2026-11-26T12:00:00Z, dirty)"},
		{"revision only", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("vcs.revision", "abc")}, "dev-abc"},
	}
	for _, tt := range tests {
		if got := buildVersion(tt.bi); got != tt.want {
			t.Errorf("buildVersion(%s) = %q, want %q", tt.name, got, tt.want)
		}
	}
}
