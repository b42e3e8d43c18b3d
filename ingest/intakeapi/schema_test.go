package intakeapi

import "testing"

// TestObjectPointer: the instance location of a propertyNames problem is taken from the
// schema location (jsonschema v6.0.3 does not clone it for propertyNames errors).
func TestObjectPointer(t *testing.T) {
	for in, want := range map[string]string{
		"https://x/brief.schema.json#/properties/kenmerken/propertyNames":                "/kenmerken",
		"https://x/brief.schema.json#/properties/afzender/properties/a~1b/propertyNames": "/afzender/a~1b",
		"https://x/brief.schema.json#/propertyNames":                                     "",
	} {
		if got, ok := objectPointer(in, "propertyNames"); !ok || got != want {
			t.Errorf("objectPointer(%s) = %q, %v, want %q", in, got, ok, want)
		}
	}
	if _, ok := objectPointer("https://x/s.json#/items/propertyNames", "propertyNames"); ok {
		t.Error("objectPointer(through items) = ok, want not ok")
	}
}
