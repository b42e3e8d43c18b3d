package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/instroom/instroom/config"
	"github.com/instroom/instroom/ingest"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func versionString() string {
	if version != "" {
		return version
	}
	bi, _ := debug.ReadBuildInfo()
	return buildVersion(bi)
}

// buildVersion is the version from the build info: the module version of an installed
// release, or for a build from a checkout "dev-<revision>" with the commit time and
// ", dirty" when the work tree had changes, e.g. "dev-3f2a1c9 (2026-11-26T12:00:00Z, dirty)".
func buildVersion(bi *debug.BuildInfo) string {
	if bi == nil {
		return "dev"
	}
	if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	var rev, at string
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "dev"
	}
	if len(rev) > 7 {
		rev = rev[:7]
	}
	var details []string
	if at != "" {
		details = append(details, at)
	}
	if dirty {
		details = append(details, "dirty")
	}
	if len(details) == 0 {
		return "dev-" + rev
	}
	return "dev-" + rev + " (" + strings.Join(details, ", ") + ")"
}

const usage = `usage: instroom <command> [flags]

commands:
  run -config FILE [-once]     run the worker (-once: stop when the sources are empty)
  inspect [-config FILE] [-channel NAME] FILE
                               print the registration one item (an .eml or .msg file, a
                               letter, a transcript) would produce; stores and publishes
                               nothing
  check-config -config FILE    validate a configuration and print it with secrets hidden
  replay -config FILE [-source NAME] [-reason R] [-ref REF | -dead-letters FILE|-] [-dry-run]
                               move failed items back to their source so the worker
                               handles them again (-dry-run: list them only)
  version                      print the version
`

// run is the whole program; main only adds signals and the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, environ []string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "run":
		err = cmdRun(ctx, args[1:], stderr, environ)
	case "inspect":
		err = cmdInspect(ctx, args[1:], stdout, stderr, environ)
	case "check-config":
		err = cmdCheckConfig(args[1:], stdout, stderr, environ)
	case "replay":
		err = cmdReplay(ctx, args[1:], os.Stdin, stdout, stderr, environ)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "instroom", versionString())
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "instroom: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if errors.Is(err, errUsage) {
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "instroom:", err)
		return 1
	}
	return 0
}

var errUsage = errors.New("usage")

func flags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("instroom "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func loadConfig(path string, environ []string) (*config.Config, error) {
	if path == "" {
		for _, kv := range environ {
			if v, ok := strings.CutPrefix(kv, config.EnvPrefix+"CONFIG="); ok {
				path = v
			}
		}
	}
	if path == "" {
		return nil, errors.New("no configuration: give -config FILE (or set INSTROOM_CONFIG)")
	}
	return config.Load(path, environ)
}

func cmdCheckConfig(args []string, stdout, stderr io.Writer, environ []string) error {
	fs := flags("check-config", stderr)
	path := fs.String("config", "", "configuration `file`")
	if err := fs.Parse(args); err != nil {
		return errUsageOr(err)
	}
	c, err := loadConfig(*path, environ)
	if err != nil {
		return err
	}
	if _, err := mapOptions(c); err != nil {
		return err
	}
	if err := checkCAFiles(c); err != nil {
		return err
	}
	// Let every channel validate its own settings, opening nothing.
	cs, err := setupChannels(c, channelEnv(c, slog.New(slog.DiscardHandler), false, true))
	if err != nil {
		return err
	}
	if _, err := newStreams(context.Background(), c, cs, true); err != nil {
		return err
	}
	if err := checkIntakeSources(c, cs); err != nil {
		return err
	}
	fmt.Fprint(stdout, c.String())
	fmt.Fprintln(stderr, "configuration is valid")
	return nil
}

func cmdInspect(ctx context.Context, args []string, stdout, stderr io.Writer, environ []string) error {
	fs := flags("inspect", stderr)
	path := fs.String("config", "", "configuration `file` (optional: the mapping defaults are used without it)")
	channel := fs.String("channel", "email", "the `channel` whose parser reads the file")
	if err := fs.Parse(args); err != nil {
		return errUsageOr(err)
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: instroom inspect [-config FILE] [-channel NAME] FILE (channel brief: the sidecar, with its scan beside it)")
		return errUsage
	}
	var c *config.Config
	var err error
	if *path != "" {
		if c, err = loadConfig(*path, environ); err != nil {
			return err
		}
	} else {
		// The defaults of a minimal configuration.
		if c, err = config.Parse([]byte("sources: [{type: dir, path: .}]"), ".", nil); err != nil {
			return err
		}
	}
	opts, err := mapOptions(c)
	if err != nil {
		return err
	}
	file := fs.Arg(0)
	info, err := os.Stat(file)
	if err != nil {
		return fmt.Errorf("reading item: %w", err)
	}
	item := &ingest.Item{
		Ref: filepath.Base(file), Size: info.Size(), ReceivedAt: info.ModTime().UTC().Truncate(time.Second),
		Open: func(context.Context) (io.ReadCloser, error) { return os.Open(file) },
	}
	cs, err := setupChannels(c, channelEnv(c, slog.New(slog.DiscardHandler), false, true))
	if err != nil {
		return err
	}
	rt, ok := cs.runtimes[*channel]
	if !ok {
		return fmt.Errorf("inspect: there is no channel %q (channels: %s)", *channel, cs.names())
	}
	if fi, ok := rt.(ingest.FileItemer); ok {
		if item, err = fi.FileItem(file); err != nil {
			return err
		}
	}
	reg, err := ingest.Inspect(ctx, rt.Parser(), item, opts)
	if err != nil {
		return fmt.Errorf("inspecting %s: %w", item.Ref, err)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(reg)
}

func errUsageOr(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	return errUsage
}
