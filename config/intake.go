package config

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
)

var (
	vendorRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)
	sha256RE = regexp.MustCompile(`^[0-9a-f]{64}$`)
	whsecRE  = regexp.MustCompile(`^whsec_[A-Za-z0-9+/]{32,88}={0,2}$`)
)

// VendorKeys lists the configured vendors, sorted.
func (in *Intake) VendorKeys() []string {
	keys := make([]string, 0, len(in.Vendors))
	for k := range in.Vendors {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func validateIntake(in *Intake, opsListen string, bad badFunc) {
	if in.Listen != "" {
		if in.Listen == opsListen {
			bad("intake.listen: must differ from ops.listen")
		}
		if in.TLS == nil && !in.AllowPlain && !IsLoopback(in.Listen) {
			bad("intake.listen: plain HTTP only on a loopback address; set intake.tls, or allow_plain: true behind a TLS-terminating proxy")
		}
	}
	if tl := in.TLS; tl != nil {
		for k, f := range map[string]string{"cert_file": tl.CertFile, "key_file": tl.KeyFile} {
			if _, err := os.Stat(f); f == "" || err != nil {
				bad("intake.tls.%s: %q cannot be read", k, f)
			}
		}
	}
	if in.MaxBriefBytes < 1024 || in.MaxGesprekBytes < 1024 {
		bad("intake.max_brief_bytes, max_gesprek_bytes: at least 1024")
	}
	for _, k := range in.VendorKeys() {
		v := in.Vendors[k]
		at := "intake.vendors." + k
		if !vendorRE.MatchString(k) {
			bad("%s: the key must match ^[a-z0-9][a-z0-9-]{0,31}$", at)
		}
		if len(v.Channels) == 0 {
			bad("%s.channels: at least one channel", at)
		}
		for i, h := range v.TokenSHA256 {
			if !sha256RE.MatchString(h) {
				bad("%s.token_sha256[%d]: must be 64 lowercase hex characters (the SHA-256 of the token, never the token)", at, i)
			}
		}
		if v.Rate <= 0 || v.Burst < 1 {
			bad("%s: rate must be above 0 and burst at least 1", at)
		}
		for i, s := range v.WebhookSecrets {
			if !whsecRE.MatchString(s.Value()) {
				bad("%s.webhook_secrets[%d]: must be whsec_ followed by base64", at, i)
			}
		}
	}
}

// resolveWebhookSecretFiles reads every vendor's webhook_secrets_file: one secret a line.
func resolveWebhookSecretFiles(c *Config) error {
	for _, k := range c.Intake.VendorKeys() {
		v := c.Intake.Vendors[k]
		if v.WebhookSecretsFile == "" {
			continue
		}
		if len(v.WebhookSecrets) > 0 {
			return fmt.Errorf("config: intake.vendors.%s: webhook_secrets and webhook_secrets_file are both set; use one", k)
		}
		b, err := os.ReadFile(c.Path(v.WebhookSecretsFile))
		if err != nil {
			return fmt.Errorf("config: intake.vendors.%s.webhook_secrets_file: cannot read %s", k, c.Path(v.WebhookSecretsFile))
		}
		for _, line := range strings.Split(string(b), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				v.WebhookSecrets = append(v.WebhookSecrets, Secret(line))
			}
		}
		c.Intake.Vendors[k] = v
	}
	return nil
}
