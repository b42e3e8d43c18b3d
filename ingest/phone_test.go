package ingest_test

import (
	"testing"

	"github.com/instroom/instroom/ingest"
)

// TestPhoneSpellings runs real-world Dutch (and a few foreign) spellings of phone numbers
// through NormalisePhone and ValidPhone (contracts/intake-api.md §9): a valid result is a
// digitaal adres telefoonnummer, anything else is kept as overig.
func TestPhoneSpellings(t *testing.T) {
	cases := []struct {
		in    string
		want  string // NormalisePhone(in)
		valid bool
	}{
		{"06 - 12 34 56 78", "0612345678", true},
		{"06-12345678", "0612345678", true},
		{"06 12345678", "0612345678", true},
		{"0612345678", "0612345678", true},
		{"06.12.34.56.78", "0612345678", true},
		{"06/12345678", "0612345678", true},
		{"(06) 12 34 56 78", "0612345678", true},
		{"06\u00a012\u00a034\u00a056\u00a078", "0612345678", true}, // no-break spaces
		{"06\u202f1234\u202f5678", "0612345678", true},             // narrow no-break spaces
		{"\t 06 1234 5678 \n", "0612345678", true},
		{"+31 6 22300190", "+31622300190", true},
		{"+31 (0)6 1234 5678", "+31612345678", true},
		{"+31(0)612345678", "+31612345678", true},
		{"+31-6-12345678", "+31612345678", true},
		{"0031612345678", "+31612345678", true},
		{"0031 6 12345678", "+31612345678", true},
		{"00 31 6 1234 5678", "+31612345678", true},
		{"+31 (0)20 123 4567", "+31201234567", true},
		{"020-1234567", "0201234567", true},
		{"020 - 123 45 67", "0201234567", true},
		{"(020) 123 45 67", "0201234567", true},
		{"010-4141414", "0104141414", true},
		{"0591-123456", "0591123456", true},
		{"085 - 303 20 00", "0853032000", true},
		{"+32 2 123 45 67", "+3221234567", true}, // Belgium
		{"0032 470 12 34 56", "+32470123456", true},
		{"+49 30 1234567", "+49301234567", true}, // Germany
		{"+44 20 7946 0958", "+442079460958", true},
		{"06-1234567", "061234567", false},     // one digit short
		{"06-123456789", "06123456789", false}, // one digit too many
		{"14 020", "14020", false},             // municipal short number
		{"14020", "14020", false},
		{"0800-1234", "08001234", false},       // too short anyway
		{"0800-1234567", "08001234567", false}, // 11 digits
		{"0800 123 456", "0800123456", false},  // free number: not a telefoonnummer
		{"0900-1234567", "09001234567", false},
		{"0900 123 4567", "09001234567", false},
		{"112", "112", false},
		{"", "", false},
		{"onbekend", "onbekend", false},
		{"06 12 34 56 78 (na 17 uur)", "0612345678na17uur", false},
		{"tel: 0612345678", "tel:0612345678", false},
		{"+31 6 1234 5678 ext. 12", "+31612345678ext12", false},
		{"+3161234567890123", "+3161234567890123", false}, // 16 digits
		{"0612345678 / 0201234567", "06123456780201234567", false},
		{"+", "+", false},
	}
	for _, tc := range cases {
		got := ingest.NormalisePhone(tc.in)
		if got != tc.want {
			t.Errorf("NormalisePhone(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if v := ingest.ValidPhone(got); v != tc.valid {
			t.Errorf("ValidPhone(NormalisePhone(%q) = %q) = %v, want %v", tc.in, got, v, tc.valid)
		}
	}
	if len(cases) < 30 {
		t.Fatalf("%d spellings, want at least 30", len(cases))
	}
}
