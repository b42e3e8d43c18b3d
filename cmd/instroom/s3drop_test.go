package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/instroom/instroom/ingest/ingesttest"
	"github.com/instroom/instroom/storage/blob"
	"github.com/instroom/instroom/storage/bus"
)

// TestMailFromS3DropZone: mails dropped under an S3 prefix (versitygw) are registered and
// moved to <prefix>/processed/; a non-mail goes to <prefix>/failed/ with its reason.
func TestMailFromS3DropZone(t *testing.T) {
	s3 := ingesttest.StartS3(t, nil)
	s3.CreateBucket(t, "aanlevering")
	ctx := context.Background()
	store, err := blob.NewS3(blob.S3Options{Endpoint: s3.Endpoint, Bucket: "aanlevering", PathStyle: true, Insecure: true, AccessKey: s3.AccessKey, SecretKey: s3.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	put := func(key string, b []byte) {
		if err := store.Put(ctx, key, strings.NewReader(string(b)), int64(len(b)), "application/octet-stream"); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"01-plain.eml", "41-outlook.msg", "14-attachments-inline.eml"} {
		b, err := os.ReadFile(filepath.Join("../../channels/mail/testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		put("mail/"+name, b)
	}
	put("mail/foto.gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"))
	dir := t.TempDir()
	cfg := filepath.Join(dir, "instroom.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir: data
sources:
  - name: s3-mail
    type: s3
    prefix: mail
    min_age: -1s
    s3: {endpoint: %s, bucket: aanlevering, path_style: true, insecure: true, access_key: %s, secret_key: %s}
`, s3.Endpoint, s3.AccessKey, s3.SecretKey)), 0o644)
	if code, _, stderr := runCLI(t, "run", "-once", "-config", cfg); code != 0 {
		t.Fatalf("run = exit %d: %s", code, stderr)
	}
	recs, err := bus.ReadAll(filepath.Join(dir, "data", "events", "klantcontacten.jsonl"))
	if err != nil || len(recs) != 3 {
		t.Fatalf("klantcontacten = %d (%v), want 3", len(recs), err)
	}
	for _, key := range []string{"mail/processed/01-plain.eml", "mail/processed/41-outlook.msg", "mail/processed/14-attachments-inline.eml", "mail/failed/foto.gif", "mail/failed/foto.gif.reason.json"} {
		rc, err := store.Get(ctx, key)
		if err != nil {
			t.Errorf("%s: %v", key, err)
			continue
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if strings.HasSuffix(key, ".reason.json") && !strings.Contains(string(b), `"unparseable"`) {
			t.Errorf("reason = %s, want unparseable", b)
		}
	}
	if _, err := store.Get(ctx, "mail/01-plain.eml"); err == nil {
		t.Error("a handled mail is still at the top of the prefix")
	}
	dl, _ := bus.ReadAll(filepath.Join(dir, "data", "events", "instroom.deadletter.jsonl"))
	if len(dl) != 1 {
		t.Errorf("dead letters = %d, want 1 (the gif)", len(dl))
	}
}
