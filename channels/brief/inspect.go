package brief

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/instroom/instroom/ingest"
)

var vendorKeyRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// FileItem implements ingest.FileItemer for instroom inspect: path is a sidecar in a
// vendor's folder of a drop zone (<zone>/<vendor>/<scanId>.json); the scan it names is
// beside it, and the folder's name is the vendor ("inspect" when it is not a vendor key).
func (rt *briefRuntime) FileItem(path string) (*ingest.Item, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading sidecar: %w", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading sidecar: %w", err)
	}
	var s struct {
		Bestand string `json:"bestand"`
	}
	_ = json.Unmarshal(b, &s) // an invalid sidecar is the parser's to report
	vendor := filepath.Base(filepath.Dir(path))
	if !vendorKeyRE.MatchString(vendor) {
		vendor = "inspect"
	}
	item := &ingest.Item{
		Ref: vendor + "/" + filepath.Base(path), Vendor: vendor, Size: info.Size(), ReceivedAt: info.ModTime().UTC().Truncate(time.Second),
		Open: func(context.Context) (io.ReadCloser, error) { return os.Open(path) },
	}
	if s.Bestand != "" && s.Bestand == filepath.Base(s.Bestand) {
		scan := filepath.Join(filepath.Dir(path), s.Bestand)
		if st, err := os.Stat(scan); err == nil {
			item.Size += st.Size()
			item.Files = []ingest.ItemFile{{Name: s.Bestand, Size: st.Size(), Open: func(context.Context) (io.ReadCloser, error) { return os.Open(scan) }}}
		}
	}
	return item, nil
}

var _ ingest.FileItemer = (*briefRuntime)(nil)
