package main

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/instroom/instroom/channels/brief"
	"github.com/instroom/instroom/channels/chat"
	"github.com/instroom/instroom/channels/mail"
	"github.com/instroom/instroom/config"
	"github.com/instroom/instroom/ingest"
)

// channelList is the one list of channels. Adding a channel is a new package under
// channels/ plus one line here.
func channelList() []ingest.Channel {
	return []ingest.Channel{
		mail.Descriptor,
		brief.Descriptor,
		chat.Descriptor,
	}
}

// channelSet is the channels set up for one run (or one check-config).
type channelSet struct {
	list     []ingest.Channel
	runtimes map[string]ingest.Runtime
}

func (cs *channelSet) names() string {
	var n []string
	for _, ch := range cs.list {
		n = append(n, ch.Name)
	}
	return strings.Join(n, ", ")
}

func (cs *channelSet) channel(name string) (ingest.Channel, bool) {
	for _, ch := range cs.list {
		if ch.Name == name {
			return ch, true
		}
	}
	return ingest.Channel{}, false
}

// setupChannels sets up every channel with its channels.<name> block. A block for a
// channel that does not exist is an error.
func setupChannels(c *config.Config, env ingest.Env) (*channelSet, error) {
	cs := &channelSet{list: channelList(), runtimes: map[string]ingest.Runtime{}}
	for _, name := range c.ChannelNames() {
		if _, ok := cs.channel(name); !ok {
			return nil, fmt.Errorf("config: channels.%s: there is no channel %q (channels: %s)", name, name, cs.names())
		}
	}
	for _, k := range c.Intake.VendorKeys() {
		for _, name := range c.Intake.Vendors[k].Channels {
			if _, ok := cs.channel(name); !ok {
				return nil, fmt.Errorf("config: intake.vendors.%s.channels: %q is not one of %s", k, name, cs.names())
			}
		}
	}
	for name := range c.Mapping.Kanalen {
		if _, ok := cs.channel(name); !ok {
			return nil, fmt.Errorf("config: mapping.kanalen.%s: there is no channel %q (channels: %s)", name, name, cs.names())
		}
	}
	for _, ch := range cs.list {
		chEnv := env
		hints := c.KanaalSettings(ch.Name)
		chEnv.MappingHints = hints.Decoder()
		rt, err := ch.Setup(chEnv, c.ChannelSettings(ch.Name).Decoder())
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		if !hints.Decoded() && !hints.Empty() {
			// The channel has no mapping hints: every extra key is unknown.
			if err := hints.Decoder()(&struct{}{}); err != nil {
				return nil, fmt.Errorf("config: %w", err)
			}
		}
		cs.runtimes[ch.Name] = rt
	}
	return cs, nil
}

// channelEnv is what every channel gets from the host.
func channelEnv(c *config.Config, log *slog.Logger, once, checkOnly bool) ingest.Env {
	env := ingest.Env{
		Logger: log, DataDir: c.DataDir, MaxItemBytes: c.Limits.MaxMessageBytes, Once: once, CheckOnly: checkOnly,
		DrainTimeout: c.Shutdown.DrainTimeout,
	}
	for _, k := range c.Intake.VendorKeys() {
		v := c.Intake.Vendors[k]
		iv := ingest.Vendor{Key: k, Channels: v.Channels, TokenSHA256: v.TokenSHA256, Rate: v.Rate, Burst: v.Burst, URLHosts: v.URLHosts}
		for _, sec := range v.WebhookSecrets {
			iv.WebhookSecrets = append(iv.WebhookSecrets, sec.Value())
		}
		env.Vendors = append(env.Vendors, iv)
	}
	for _, sc := range c.Sources {
		env.Workers = max(env.Workers, sc.Workers)
	}
	return env
}

// newStreams asks each source's channel to open it: one stream per source (an IMAP
// account: one per folder). With checkOnly it only validates.
func newStreams(ctx context.Context, c *config.Config, cs *channelSet, checkOnly bool) ([]ingest.Stream, error) {
	var streams []ingest.Stream
	for i := range c.Sources {
		sc := &c.Sources[i]
		at := fmt.Sprintf("sources[%d]", i)
		ch, ok := cs.channel(sc.Channel)
		if !ok {
			return nil, fmt.Errorf("config: %s.channel: %q is not one of %s", at, sc.Channel, cs.names())
		}
		if !ch.SupportsType(sc.Type) {
			types := append([]string(nil), ch.SourceTypes...)
			sort.Strings(types)
			return nil, fmt.Errorf("config: %s.type: %q is not one of %s (channel %s)", at, sc.Type, strings.Join(types, ", "), ch.Name)
		}
		rt := cs.runtimes[ch.Name]
		scfg := ingest.SourceConfig{
			Name: sc.Name, At: at, Type: sc.Type, Path: sc.Path, PollInterval: sc.PollInterval, Workers: sc.Workers,
			Settings: sc.Settings().Decoder(),
		}
		if sc.Type == "dir" || sc.Type == "s3" {
			scfg.DropZone = func(ctx context.Context, sub string) (ingest.DropZone, error) { return newDropZone(ctx, c, sc, sub) }
		}
		opened, err := rt.Sources(ctx, scfg)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		for _, ns := range opened {
			name := sc.Name
			if ns.Suffix != "" {
				name += "." + ns.Suffix
			}
			streams = append(streams, ingest.Stream{
				Name: name, Channel: ch.Name, Source: ns.Source, Parser: rt.Parser(),
				Workers: sc.Workers, DrainTimeout: c.Shutdown.DrainTimeout, MaxBackoff: c.Limits.RetryMaxBackoff,
			})
		}
	}
	if err := c.CheckEnvUsed(); err != nil {
		return nil, err
	}
	return streams, nil
}
