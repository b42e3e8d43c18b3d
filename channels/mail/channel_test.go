package mail

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/instroom/instroom/ingest"
)

// TestSpoolLeftoversRemovedAtStart: spool files a killed worker left behind are removed
// when the channel opens its sources; check-config removes nothing.
func TestSpoolLeftoversRemovedAtStart(t *testing.T) {
	dataDir := t.TempDir()
	spool := filepath.Join(dataDir, "spool", "mail")
	os.MkdirAll(spool, 0o750)
	left := filepath.Join(spool, "instroom-mail-123")
	os.WriteFile(left, []byte("x"), 0o600)
	none := func(v any) error { return nil }
	sc := ingest.SourceConfig{Name: "md", At: "sources[0]", Type: "maildir", Path: filepath.Join(dataDir, "inbox"), Settings: none}

	check, _ := Descriptor.Setup(ingest.Env{DataDir: dataDir, CheckOnly: true}, none)
	if _, err := check.Sources(context.Background(), sc); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(left); err != nil {
		t.Errorf("check-config removed a spool file: %v", err)
	}
	rt, _ := Descriptor.Setup(ingest.Env{DataDir: dataDir}, none)
	if _, err := rt.Sources(context.Background(), sc); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(left); !os.IsNotExist(err) {
		t.Errorf("spool file left by a killed worker still there: %v", err)
	}
}
