package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/instroom/instroom/config"
)

const minimal = "sources: [{type: dir, path: inbox}]\n"

func TestScanOffByDefaultWithDefaultsPrinted(t *testing.T) {
	c, err := config.Parse([]byte(minimal), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Scan.Enabled() || c.Scan.Clamd.Timeout != time.Minute || c.Scan.Quarantine.Prefix != "quarantaine" {
		t.Errorf("scan = %+v, want off with the defaults", c.Scan)
	}
	out := c.String()
	for _, want := range []string{"scan:", "timeout: 1m0s", "prefix: quarantaine"} {
		if !strings.Contains(out, want) {
			t.Errorf("check-config output lacks %q:\n%s", want, out)
		}
	}
}

func TestScanFromFileAndEnvironment(t *testing.T) {
	yaml := minimal + "scan:\n  clamd: {address: 'unix:///run/clamav/clamd.ctl'}\n  quarantine: {prefix: /beheer/quarantaine/}\n"
	c, err := config.Parse([]byte(yaml), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Scan.Enabled() || c.Scan.Clamd.Address != "unix:///run/clamav/clamd.ctl" || c.Scan.Quarantine.Prefix != "beheer/quarantaine" {
		t.Errorf("scan = %+v", c.Scan)
	}
	env := []string{"INSTROOM_SCAN_CLAMD_ADDRESS=tcp://clamav.intern:3310", "INSTROOM_SCAN_CLAMD_TIMEOUT=2m", "INSTROOM_SCAN_QUARANTINE_PREFIX=q"}
	c, err = config.Parse([]byte(yaml), t.TempDir(), env)
	if err != nil {
		t.Fatal(err)
	}
	if c.Scan.Clamd.Address != "tcp://clamav.intern:3310" || c.Scan.Clamd.Timeout != 2*time.Minute || c.Scan.Quarantine.Prefix != "q" {
		t.Errorf("environment overrides not applied: %+v", c.Scan)
	}
}

func TestScanBadValuesNameTheirPath(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"scan: {clamd: {address: '127.0.0.1:3310'}}", "scan.clamd.address"},
		{"scan: {clamd: {address: 'tcp://127.0.0.1'}}", "scan.clamd.address"},
		{"scan: {clamd: {address: 'unix://clamd.ctl'}}", "scan.clamd.address"},
		{"scan: {clamd: {address: 'tcp://127.0.0.1:3310', timeout: 10ms}}", "scan.clamd.timeout"},
		{"scan: {quarantine: {prefix: '../elders'}}", "scan.quarantine.prefix"},
		{"scan: {quarantine: {prefix: 'met spatie'}}", "scan.quarantine.prefix"},
		{"storage: {blobs: {prefix: objecten}}\nscan: {quarantine: {prefix: objecten}}", "must differ from storage.blobs.prefix"},
		{"scan: {quarantine: {prefix: index}}", "must differ from storage.blobs.prefix"},
		{"scan: {clamd: {adres: x}}", "adres"},
	} {
		_, err := config.Parse([]byte(minimal+tc.yaml), t.TempDir(), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to name %s", tc.yaml, err, tc.want)
		}
	}
}
