// Package chat is the transcript channel: finished chatbot, live-chat and messaging-app
// conversations (contracts/gesprek.schema.json) that a vendor drops as <gesprekId>.json in
// its folder of a drop zone (a directory or an S3 prefix) or pushes over the intake API,
// which writes them into that same drop zone. Each conversation becomes one klantcontact
// with the transcript JSON, its attachments and the rendered text as informatieobjecten,
// and an interne taak only where a person must act (contracts/intake-api.md §8–§11).
package chat

import (
	"context"
	"fmt"
	"sync"

	"github.com/instroom/instroom/ingest"
)

// Channel is the channel name of transcripts: in configuration, routing rules, dead
// letters and deterministic ids.
const Channel = "chat"

// Descriptor describes the transcript channel to the host: drop zones (a directory or an
// S3 prefix) with a folder per vendor allowed on channel chat.
var Descriptor = ingest.Channel{
	Name:        Channel,
	Defaults:    ingest.ChannelDefaults{Kanaal: "Live chat", AdresOmschrijving: "Opgegeven in chatgesprek"},
	SourceTypes: []string{"dir", "s3"},
	Setup:       setup,
}

// chatRuntime is the transcript channel set up for one run of the worker.
type chatRuntime struct {
	env      ingest.Env
	settings ChannelSettings
	parser   *Parser

	mu    sync.Mutex
	zones map[string]ingest.DropZone // vendor key → its folder of the first transcript source
}

func setup(env ingest.Env, decode ingest.Decoder) (ingest.Runtime, error) {
	rt := &chatRuntime{env: env, zones: map[string]ingest.DropZone{}}
	var block channelBlock
	if err := decode(&block); err != nil {
		return nil, err
	}
	rt.settings.Fetch = block.Fetch
	if env.MappingHints != nil {
		if err := env.MappingHints(&rt.settings.MappingHints); err != nil {
			return nil, err
		}
	}
	if err := rt.settings.validate("channels." + Channel); err != nil {
		return nil, err
	}
	rt.settings.defaults()
	hosts := map[string][]string{}
	for _, v := range env.Vendors {
		if v.Allows(Channel) {
			hosts[v.Key] = v.URLHosts
		}
	}
	rt.parser = NewParser(&Options{Settings: rt.settings, URLHosts: hosts, MaxBytes: env.MaxItemBytes})
	return rt, nil
}

// Parser implements ingest.Runtime.
func (rt *chatRuntime) Parser() ingest.Parser { return rt.parser }

// Routes implements ingest.Runtime: the intake API endpoints of transcripts.
func (rt *chatRuntime) Routes() []ingest.Route { return rt.apiRoutes() }

// vendorZone returns the drop-zone folder of vendor in the transcript source opened
// first, where the intake API writes pushed transcripts; nil when no source has one.
func (rt *chatRuntime) vendorZone(vendor string) ingest.DropZone {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.zones[vendor]
}

// Sources implements ingest.Runtime: one source per vendor allowed on channel chat, each
// reading that vendor's folder of the configured drop zone, where every top-level file
// is one transcript.
func (rt *chatRuntime) Sources(ctx context.Context, sc ingest.SourceConfig) ([]ingest.NamedSource, error) {
	var none struct{}
	if err := sc.Settings(&none); err != nil {
		return nil, err
	}
	if sc.Type != "dir" && sc.Type != "s3" {
		return nil, fmt.Errorf("%s.type: %q is not a source type of the transcript channel", sc.At, sc.Type)
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
	var out []ingest.NamedSource
	for _, v := range vendors {
		z, err := sc.DropZone(ctx, v)
		if err != nil {
			return nil, fmt.Errorf("source %s, vendor %s: %w", sc.Name, v, err)
		}
		rt.mu.Lock()
		if rt.zones[v] == nil {
			rt.zones[v] = z
		}
		rt.mu.Unlock()
		src := ingest.NewDropSource(z, &ingest.DropSourceOptions{PollInterval: sc.PollInterval, Once: rt.env.Once, Vendor: v})
		out = append(out, ingest.NamedSource{Suffix: v, Source: src})
	}
	return out, nil
}
