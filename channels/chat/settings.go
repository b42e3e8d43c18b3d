package chat

import (
	"fmt"
	"strings"
	"time"
)

// ChannelSettings are the channel's settings: its mapping hints, the keys of
// mapping.kanalen.chat beside kanaal (contract §11), and the channels.chat block.
type ChannelSettings struct {
	MappingHints
	// Fetch bounds the download of attachments given by URL (channels.chat.fetch).
	Fetch FetchSettings `yaml:"fetch"`
}

// MappingHints are the chat channel's own keys of mapping.kanalen.chat.
type MappingHints struct {
	// ByKanaal maps a transcript's kanaal (case-insensitive) to klantcontact.kanaal. The
	// defaults (chat, whatsapp, app, facebook, instagram) stay unless overridden; an
	// unmapped kanaal gets the channel's kanaal (mapping.kanalen.chat.kanaal).
	ByKanaal map[string]string `yaml:"by_kanaal"`
	// Medewerker are the codes of a medewerker's actoridentificator.
	Medewerker Codes `yaml:"medewerker"`
}

// channelBlock is the channels.chat block.
type channelBlock struct {
	Fetch FetchSettings `yaml:"fetch"`
}

// Codes are the three codes of an Open Klant identificator.
type Codes struct {
	CodeObjecttype    string `yaml:"code_objecttype"`
	CodeRegister      string `yaml:"code_register"`
	CodeSoortObjectID string `yaml:"code_soort_object_id"`
}

// FetchSettings are the keys of channels.chat.fetch.
type FetchSettings struct {
	// Timeout bounds one attachment download, redirects included (default 30s); a
	// download that takes longer is a temporary failure.
	Timeout time.Duration `yaml:"timeout"`
}

var defaultByKanaal = map[string]string{
	"chat": "Live chat", "whatsapp": "WhatsApp", "app": "App", "facebook": "Facebook", "instagram": "Instagram",
}

const defaultFetchTimeout = 30 * time.Second

func (c *ChannelSettings) validate(at string) error {
	for k, v := range c.ByKanaal {
		if strings.TrimSpace(k) == "" || strings.TrimSpace(v) == "" {
			return fmt.Errorf("mapping.kanalen.chat.by_kanaal: keys and values must not be empty")
		}
		if len([]rune(v)) > 50 {
			return fmt.Errorf("mapping.kanalen.chat.by_kanaal: the kanaal of %q is longer than 50 characters", k)
		}
	}
	for _, f := range []struct{ name, v string }{
		{"code_objecttype", c.Medewerker.CodeObjecttype}, {"code_register", c.Medewerker.CodeRegister}, {"code_soort_object_id", c.Medewerker.CodeSoortObjectID},
	} {
		if len([]rune(f.v)) > 200 {
			return fmt.Errorf("mapping.kanalen.chat.medewerker.%s: longer than 200 characters", f.name)
		}
	}
	if c.Fetch.Timeout < 0 {
		return fmt.Errorf("%s.fetch.timeout: must not be negative", at)
	}
	return nil
}

// defaults fills in what is not configured; ByKanaal keys become lower case.
func (c *ChannelSettings) defaults() {
	m := map[string]string{}
	for k, v := range defaultByKanaal {
		m[k] = v
	}
	for k, v := range c.ByKanaal {
		m[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
	c.ByKanaal = m
	if c.Medewerker.CodeObjecttype == "" {
		c.Medewerker.CodeObjecttype = "mdw"
	}
	if c.Medewerker.CodeRegister == "" {
		c.Medewerker.CodeRegister = "msei"
	}
	if c.Medewerker.CodeSoortObjectID == "" {
		c.Medewerker.CodeSoortObjectID = "email"
	}
	if c.Fetch.Timeout == 0 {
		c.Fetch.Timeout = defaultFetchTimeout
	}
}
