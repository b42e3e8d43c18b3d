// Package brief is the letter channel: scanned letters that a DMS or scanning street
// delivers as a scan plus a JSON metadata sidecar (contracts/brief.schema.json), in a
// vendor's folder of a drop zone (a directory or an S3 prefix) or pushed over the intake
// API, which writes them into that same drop zone. Each letter becomes one klantcontact
// with the scan, the sidecar and the full text as informatieobjecten (contracts/
// intake-api.md §8–§11).
package brief

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/instroom/instroom/ingest"
)

// Channel is the channel name of letters: in configuration, routing rules, dead letters
// and deterministic ids.
const Channel = "brief"

// Descriptor describes the letter channel to the host: drop zones (a directory or an S3
// prefix) with a folder per vendor allowed on channel brief.
var Descriptor = ingest.Channel{
	Name:        Channel,
	Defaults:    ingest.ChannelDefaults{Kanaal: "Brief", AdresOmschrijving: "Afzender van ontvangen brief"},
	SourceTypes: []string{"dir", "s3"},
	Setup:       setup,
}

// briefRuntime is the letter channel set up for one run of the worker.
type briefRuntime struct {
	env      ingest.Env
	settings ChannelSettings
	parser   *Parser

	spoolOnce sync.Once
	mu        sync.Mutex
	zones     map[string]ingest.DropZone // vendor key → its folder of the first letter source
}

func setup(env ingest.Env, decode ingest.Decoder) (ingest.Runtime, error) {
	rt := &briefRuntime{env: env, zones: map[string]ingest.DropZone{}}
	if err := decode(&rt.settings); err != nil {
		return nil, err
	}
	if err := rt.settings.validate("channels." + Channel); err != nil {
		return nil, err
	}
	rt.settings.defaults()
	rt.parser = NewParser(&Options{
		OCR: rt.settings.OCR, SpoolDir: spoolDir(env), MaxBytes: env.MaxItemBytes,
		Metrics: env.Metrics,
	})
	return rt, nil
}

func spoolDir(env ingest.Env) string {
	if env.DataDir == "" {
		return ""
	}
	return filepath.Join(env.DataDir, "spool", Channel)
}

// prepareSpool creates the spool directory and removes what a killed worker left in it.
// At start nothing is in flight, and one worker owns its data_dir.
func prepareSpool(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("creating spool directory: %w", err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, spoolPattern))
	for _, f := range left {
		os.RemoveAll(f)
	}
	return nil
}

// Parser implements ingest.Runtime.
func (rt *briefRuntime) Parser() ingest.Parser { return rt.parser }

// Routes implements ingest.Runtime: the intake API endpoints of letters (api_routes*.go).
func (rt *briefRuntime) Routes() []ingest.Route { return rt.apiRoutes() }

// vendorZone returns the drop-zone folder of vendor in the letter source opened first,
// where the intake API writes pushed letters; nil when no source has one.
func (rt *briefRuntime) vendorZone(vendor string) ingest.DropZone {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.zones[vendor]
}

// Sources implements ingest.Runtime: one source per configured drop zone, reading the
// folder of every vendor allowed on channel brief.
func (rt *briefRuntime) Sources(ctx context.Context, sc ingest.SourceConfig) ([]ingest.NamedSource, error) {
	var ss SourceSettings
	if err := sc.Settings(&ss); err != nil {
		return nil, err
	}
	if err := ss.validate(sc.At); err != nil {
		return nil, err
	}
	if sc.Type != "dir" && sc.Type != "s3" {
		return nil, fmt.Errorf("%s.type: %q is not a source type of the letter channel", sc.At, sc.Type)
	}
	var vendors []string
	for _, v := range rt.env.Vendors {
		if v.Allows(Channel) {
			vendors = append(vendors, v.Key)
		}
	}
	if len(vendors) == 0 {
		return nil, fmt.Errorf("%s: no vendor in intake.vendors has channel %s, so the source has no folder to read", sc.At, Channel)
	}
	if rt.env.CheckOnly {
		return nil, nil
	}
	if dir := rt.parser.opts.SpoolDir; dir != "" && !rt.env.ReplayOnly {
		var err error
		rt.spoolOnce.Do(func() { err = prepareSpool(dir) })
		if err != nil {
			return nil, err
		}
	}
	var zones []VendorZone
	for _, v := range vendors {
		z, err := sc.DropZone(ctx, v)
		if err != nil {
			return nil, fmt.Errorf("source %s, vendor %s: %w", sc.Name, v, err)
		}
		zones = append(zones, VendorZone{Vendor: v, Zone: z})
	}
	rt.mu.Lock()
	for _, z := range zones {
		if rt.zones[z.Vendor] == nil {
			rt.zones[z.Vendor] = z.Zone
		}
	}
	rt.mu.Unlock()
	src := NewSource(zones, &SourceOptions{
		PollInterval: sc.PollInterval, PairTimeout: ss.PairTimeout, Once: rt.env.Once, Logger: rt.env.Logger,
	})
	return []ingest.NamedSource{{Source: src}}, nil
}
