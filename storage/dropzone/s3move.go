package dropzone

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/minio/minio-go/v7"
)

// Done moves an item to processed/ (as <name>.1, <name>.2, … when the name is taken).
//
// A move is a copy, then a delete of the original, and never the other way round: the
// copy is whole (or absent) when CopyObject or the multipart copy returns. A crash or
// error in between leaves the item at the top level with a copy in processed/; the item
// is then read and handled again and lands in processed/ a second time, under the next
// free name. That is harmless because every id and object key made from an item is
// deterministic: the second pass overwrites the registration, it does not double it.
func (z *S3Zone) Done(ctx context.Context, name string) error {
	src, err := z.key(name)
	if err != nil {
		return err
	}
	size, dst, err := z.target(ctx, src, z.prefix+"processed/", name)
	if err == nil {
		err = z.move(ctx, src, dst, size)
	}
	if err != nil {
		return fmt.Errorf("dropzone: moving to processed: %w", err)
	}
	return nil
}

// Fail moves an item to failed/ (under a free name, as Done) and writes its reason beside
// it as <name>.reason.json.
//
// The reason is written before the item is copied, so an item in failed/ always has its
// reason. A crash after the reason leaves the item at the top level and an orphan reason
// that the next Fail of the item overwrites (its name is still free); a crash after the
// copy leaves the item at the top level as well, to be handled again (see Done).
func (z *S3Zone) Fail(ctx context.Context, name, reason, detail string) error {
	src, err := z.key(name)
	if err != nil {
		return err
	}
	size, dst, err := z.target(ctx, src, z.prefix+"failed/", name)
	if err != nil {
		return fmt.Errorf("dropzone: moving to failed: %w", err)
	}
	b, _ := json.MarshalIndent(Reason{Reason: reason, Detail: detail, At: z.opts.Now().UTC(), Name: name}, "", "  ")
	b = append(b, '\n')
	_, err = z.c.PutObject(ctx, z.bucket, dst+".reason.json", bytes.NewReader(b), int64(len(b)),
		minio.PutObjectOptions{ContentType: "application/json", ServerSideEncryption: z.sse})
	if err != nil {
		return fmt.Errorf("dropzone: writing reason: %w", describe(err))
	}
	if err := z.move(ctx, src, dst, size); err != nil {
		return fmt.Errorf("dropzone: moving to failed: %w", err)
	}
	return nil
}

// target returns the size of the object src and a free key for it in folder dir. An
// item that is gone is reported before anything is written.
func (z *S3Zone) target(ctx context.Context, src, dir, name string) (int64, string, error) {
	info, err := z.c.StatObject(ctx, z.bucket, src, minio.StatObjectOptions{})
	if err != nil {
		return 0, "", describe(err)
	}
	dst, err := z.freeKey(ctx, dir, name)
	return info.Size, dst, err
}

// move copies the object src of the given size to dst on the server, then deletes src.
func (z *S3Zone) move(ctx context.Context, src, dst string, size int64) error {
	to := minio.CopyDestOptions{Bucket: z.bucket, Object: dst, Encryption: z.sse}
	from := minio.CopySrcOptions{Bucket: z.bucket, Object: src}
	var err error
	if size <= z.opts.CopyPartSize {
		_, err = z.c.CopyObject(ctx, to, from)
	} else {
		// ComposeObject with one source does a multipart copy (it would only use
		// CopyObject for a source with Start -1, which its own validation refuses).
		to.PartSize = uint64(max(z.opts.CopyPartSize, (size+maxCopyParts-1)/maxCopyParts))
		_, err = z.c.ComposeObject(ctx, to, from)
	}
	if err != nil {
		return fmt.Errorf("copying: %w", describe(err))
	}
	if err := z.c.RemoveObject(ctx, z.bucket, src, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("removing original: %w", describe(err))
	}
	return nil
}

// freeKey returns dir+name, or dir+name.N when that exists already (Dir's freeName).
func (z *S3Zone) freeKey(ctx context.Context, dir, name string) (string, error) {
	k := dir + name
	for i := 1; ; i++ {
		_, err := z.c.StatObject(ctx, z.bucket, k, minio.StatObjectOptions{})
		if notFound(err) {
			return k, nil
		}
		if err != nil {
			return "", fmt.Errorf("finding a free name: %w", describe(err))
		}
		k = dir + name + "." + strconv.Itoa(i)
	}
}
