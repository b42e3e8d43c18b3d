package blob_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/instroom/instroom/storage/blob"
)

func TestDirPutGetOverwrite(t *testing.T) {
	ctx := context.Background()
	d, err := blob.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, content := range []string{"eerste", "tweede versie"} {
		if err := d.Put(ctx, "kc/io.eml", strings.NewReader(content), int64(len(content)), "message/rfc822"); err != nil {
			t.Fatalf("Put = %v", err)
		}
		rc, err := d.Get(ctx, "kc/io.eml")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if string(b) != content {
			t.Errorf("Get = %q, want %q", b, content)
		}
	}
	if _, err := d.Get(ctx, "kc/missing"); !errors.Is(err, blob.ErrNotExist) {
		t.Errorf("Get(missing) = %v, want ErrNotExist", err)
	}
}

func TestDirRejectsWrongSizeAndLeavesNothing(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	d, _ := blob.NewDir(root)
	for _, size := range []int64{3, 100} {
		if err := d.Put(ctx, "k/short", strings.NewReader("abcdef"), size, ""); err == nil {
			t.Errorf("Put(size %d of 6 bytes) = nil, want error", size)
		}
	}
	if _, err := d.Get(ctx, "k/short"); !errors.Is(err, blob.ErrNotExist) {
		t.Errorf("a failed Put left an object: %v", err)
	}
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if info != nil && !info.IsDir() {
			t.Errorf("file left behind: %s", p)
		}
		return nil
	})
}

func TestDirRejectsUnsafeKeys(t *testing.T) {
	d, _ := blob.NewDir(t.TempDir())
	for _, key := range []string{"", "../x", "/etc/passwd", "a/../../b", "a//b", `a\b`, "a/.tmp-1"} {
		if err := d.Put(context.Background(), key, strings.NewReader("x"), 1, ""); err == nil {
			t.Errorf("Put(%q) = nil, want an error", key)
		}
	}
}
