package ingesttest_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"testing"

	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/ingest/ingesttest"
)

func TestSpecIsTheVerbatimCopy(t *testing.T) {
	sum := sha256.Sum256(ingesttest.OpenKlantSpec)
	if got := hex.EncodeToString(sum[:]); got != ingesttest.OpenKlantSHA256 {
		t.Errorf("embedded spec sha256 = %s, want %s", got, ingesttest.OpenKlantSHA256)
	}
	// Beside a checkout, the shared contracts hold the same file.
	if b, err := os.ReadFile("../../../shared/contracts/klantinteracties-openapi.yaml"); err == nil {
		if string(b) != string(ingesttest.OpenKlantSpec) {
			t.Error("embedded spec differs from shared/contracts/klantinteracties-openapi.yaml")
		}
	}
}

func TestValidatePartRejectsViolations(t *testing.T) {
	long := make([]byte, 201)
	for i := range long {
		long[i] = 'x'
	}
	bad := map[string]any{
		"Klantcontact":  map[string]any{"kanaal": "E-mail", "onderwerp": string(long), "taal": "nld", "vertrouwelijk": false},
		"DigitaalAdres": map[string]any{"adres": "x@y.nl", "soortDigitaalAdres": "fax"},
		"InterneTaak":   map[string]any{"aanleidinggevendKlantcontact": map[string]any{"uuid": "not-a-uuid"}, "gevraagdeHandeling": "x", "status": "te_verwerken"},
	}
	for schema, part := range bad {
		if err := ingesttest.ValidatePart(schema, part); err == nil {
			t.Errorf("ValidatePart(%s, invalid) = nil, want an error", schema)
		}
	}
	ok := ingest.Klantcontact{Kanaal: "E-mail", Onderwerp: "x", Taal: "nld", Metadata: map[string]string{}}
	if err := ingesttest.ValidatePart("Klantcontact", ok); err != nil {
		t.Errorf("ValidatePart(valid klantcontact) = %v", err)
	}
}
