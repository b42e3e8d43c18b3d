package intakeapi

import (
	"strings"
	"testing"
)

// TestProblemSummaryNamesNoSenderKeys: the summary (for errors, logs and reason files)
// names an unknown or invalid property by the object that holds it, never by the name
// the sender used; the problems themselves (for the vendor's 400) keep it.
func TestProblemSummaryNamesNoSenderKeys(t *testing.T) {
	s := NewSchema("https://x/s.json", []byte(`{"type":"object","additionalProperties":false,
		"properties":{"a":{"type":"object","additionalProperties":false,"properties":{"n":{"type":"string"}}},
		"k":{"type":"object","propertyNames":{"pattern":"^[a-z]+$"}}}}`))
	ps := s.Check([]byte(`{"Jan Jansen":1,"a":{"Dorpsstraat 1":2,"Postbus 3":3,"n":4},"k":{"Piet Puk":"x"}}`))
	got := ProblemSummary(ps)
	if want := "(document) additionalProperties; /a additionalProperties; /a/n type; /k propertyNames"; got != want {
		t.Errorf("ProblemSummary = %q, want %q", got, want)
	}
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
	}
	if all := strings.Join(names, " "); !strings.Contains(all, "/Jan Jansen") || !strings.Contains(all, "/a/Dorpsstraat 1") || !strings.Contains(all, "/k/Piet Puk") {
		t.Errorf("problems %q no longer name the unknown fields for the vendor", all)
	}
}
