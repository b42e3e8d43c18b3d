package config

import "gopkg.in/yaml.v3"

// Mapping configures how intakes become registrations.
type Mapping struct {
	Taal       string            `yaml:"taal"`
	Kanalen    map[string]Kanaal `yaml:"kanalen"`
	Worker     Actor             `yaml:"worker"`
	Eenheden   map[string]Actor  `yaml:"eenheden"`
	Bijlage    Bijlage           `yaml:"bijlage"`
	Documenten Documenten        `yaml:"documenten"`
	Zaak       Zaak              `yaml:"zaak"`
}

// Kanaal configures one channel's values.
type Kanaal struct {
	Kanaal            string `yaml:"kanaal"`
	AdresOmschrijving string `yaml:"adres_omschrijving"`
	// Zaak overrides mapping.zaak's codes for this channel.
	Zaak *Codes `yaml:"zaak"`
	// Extra holds the channel's own mapping hints (mapping.kanalen.chat.by_kanaal, ...)
	// until the channel decodes them.
	Extra map[string]yaml.Node `yaml:",inline"`
}

// Codes are the codes of an identificator (objecttype, register, soort object-id).
type Codes struct {
	CodeObjecttype    string `yaml:"code_objecttype"`
	CodeRegister      string `yaml:"code_register"`
	CodeSoortObjectID string `yaml:"code_soort_object_id"`
}

// Zaak configures how zaak numbers in subject and text become onderwerpobjecten.
type Zaak struct {
	// Patterns are regular expressions (RE2); a capture group, when present, is the number.
	Patterns []string `yaml:"patterns"`
	// Uppercase writes found numbers in upper case (default true).
	Uppercase *bool `yaml:"uppercase"`
	Codes     `yaml:",inline"`
}

// Actor configures an actor (the worker, or an organisatorische eenheid).
type Actor struct {
	UUID          string         `yaml:"uuid"`
	Naam          string         `yaml:"naam"`
	Functie       string         `yaml:"functie"`
	Omschrijving  string         `yaml:"omschrijving"`
	Emailadres    string         `yaml:"emailadres"`
	Identificator *Identificator `yaml:"identificator"`
}

// Identificator identifies an object in an external register.
type Identificator struct {
	ObjectID          string `yaml:"object_id"`
	CodeObjecttype    string `yaml:"code_objecttype"`
	CodeRegister      string `yaml:"code_register"`
	CodeSoortObjectID string `yaml:"code_soort_object_id"`
}

// Bijlage configures the bijlageidentificator codes.
type Bijlage struct {
	CodeObjecttype    string `yaml:"code_objecttype"`
	CodeRegister      string `yaml:"code_register"`
	CodeSoortObjectID string `yaml:"code_soort_object_id"`
}

// Documenten configures Documenten API metadata.
type Documenten struct {
	Bronorganisatie             string `yaml:"bronorganisatie"`
	Informatieobjecttype        string `yaml:"informatieobjecttype"`
	Vertrouwelijkheidaanduiding string `yaml:"vertrouwelijkheidaanduiding"`
}

// Routing configures which interne taken are created.
type Routing struct {
	Rules []Rule `yaml:"rules"`
	// Default tasks when no rule matched.
	Default []Task `yaml:"default"`
}

// Rule is one routing rule.
type Rule struct {
	Name     string `yaml:"name"`
	When     When   `yaml:"when"`
	Tasks    []Task `yaml:"tasks"`
	Continue bool   `yaml:"continue"`
}

// When holds a rule's conditions; all that are set must hold.
type When struct {
	Channels      []string `yaml:"channels"`
	Recipients    []string `yaml:"recipients"`
	SenderDomains []string `yaml:"sender_domains"`
	Subject       string   `yaml:"subject"` // regular expression (RE2)
	Text          string   `yaml:"text"`    // regular expression (RE2)
	Signals       []string `yaml:"signals"`
}

// Task is an interne taak to create.
type Task struct {
	GevraagdeHandeling string   `yaml:"gevraagde_handeling"`
	Toelichting        string   `yaml:"toelichting"`
	Eenheden           []string `yaml:"eenheden"` // keys of mapping.eenheden
}
