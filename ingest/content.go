package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"mime"
	"path"
	"regexp"
	"strings"
)

// SafeFilename reduces a sender-given file name to its last path element without control
// characters, so it is safe to show and to offer as a download name. It is never used to
// build a storage key.
func SafeFilename(name string) string {
	name = strings.ToValidUTF8(name, "")
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, name)
	name = strings.ReplaceAll(name, "\\", "/")
	name = path.Base("/" + name)
	name = strings.TrimLeft(name, ".")
	name = strings.TrimSpace(name)
	if name == "" || name == "/" {
		return "bestand"
	}
	return name
}

var extRE = regexp.MustCompile(`^[a-z0-9]{1,8}$`)

var extByType = map[string]string{
	"message/rfc822":   "eml",
	"text/plain":       "txt",
	"text/html":        "html",
	"application/pdf":  "pdf",
	"image/jpeg":       "jpg",
	"image/png":        "png",
	"image/tiff":       "tif",
	"application/json": "json",
}

// objectKey is the deterministic, safe key of an informatieobject: prefix, klantcontact id,
// informatieobject id and an extension that is only letters and digits.
func objectKey(prefix, kcID, ioID, filename, contentType string) string {
	ext := strings.ToLower(strings.TrimPrefix(path.Ext(SafeFilename(filename)), "."))
	if !extRE.MatchString(ext) {
		ext = extByType[MediaType(contentType)]
	}
	key := kcID + "/" + ioID
	if ext != "" {
		key += "." + ext
	}
	if prefix = strings.Trim(prefix, "/"); prefix != "" {
		key = prefix + "/" + key
	}
	return key
}

// TextContent returns Content holding the given text as a UTF-8 text file.
func TextContent(filename, text string) Content {
	return BytesContent(filename, "text/plain; charset=utf-8", []byte(text))
}

// BytesContent returns Content over an in-memory byte slice.
func BytesContent(filename, contentType string, b []byte) Content {
	sum := sha256.Sum256(b)
	return Content{
		Filename: filename, ContentType: contentType, Size: int64(len(b)), SHA256: hex.EncodeToString(sum[:]),
		Open: func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
	}
}

// MediaType returns the lower-case media type of a Content-Type value without its
// parameters, or application/octet-stream when there is none.
func MediaType(contentType string) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || mt == "" || !strings.Contains(mt, "/") {
		return "application/octet-stream"
	}
	return strings.ToLower(mt)
}
