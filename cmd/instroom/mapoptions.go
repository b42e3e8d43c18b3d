package main

import (
	"fmt"
	"regexp"

	"github.com/instroom/instroom/config"
	"github.com/instroom/instroom/ingest"
)

// mapOptions turns the mapping and routing configuration into the mapping's options.
func mapOptions(c *config.Config) (*ingest.MapOptions, error) {
	m := c.Mapping
	eenheden := map[string]ingest.ActorSpec{}
	for k, a := range m.Eenheden {
		eenheden[k] = actorSpec(a, "organisatorische_eenheid")
	}
	router, err := newRouter(c, eenheden)
	if err != nil {
		return nil, err
	}
	zaak, err := zaakOptions(m.Zaak)
	if err != nil {
		return nil, err
	}
	return &ingest.MapOptions{
		Taal: m.Taal, Channels: channelDefaults(m), Worker: actorSpec(m.Worker, "geautomatiseerde_actor"), Router: router, Eenheden: eenheden,
		CodeObjecttype: m.Bijlage.CodeObjecttype, CodeRegister: m.Bijlage.CodeRegister, CodeSoortObjectID: m.Bijlage.CodeSoortObjectID,
		Bronorganisatie: m.Documenten.Bronorganisatie, Informatieobjecttype: m.Documenten.Informatieobjecttype,
		Vertrouwelijkheidaanduiding: m.Documenten.Vertrouwelijkheidaanduiding, KeyPrefix: c.Storage.Blobs.Prefix,
		Zaak: zaak, Location: ingest.DefaultLocation(),
	}, nil
}

func actorSpec(a config.Actor, soort string) ingest.ActorSpec {
	s := ingest.ActorSpec{UUID: a.UUID, Naam: a.Naam, SoortActor: soort, Functie: a.Functie, Omschrijving: a.Omschrijving, Emailadres: a.Emailadres}
	if id := a.Identificator; id != nil {
		s.Identificator = &ingest.Identificator{ObjectID: id.ObjectID, CodeObjecttype: id.CodeObjecttype, CodeRegister: id.CodeRegister, CodeSoortObjectID: id.CodeSoortObjectID}
	}
	return s
}

// newRouter builds the routing rules.
func newRouter(c *config.Config, eenheden map[string]ingest.ActorSpec) (*ingest.Router, error) {
	tasks := func(ts []config.Task) []ingest.TaskSpec {
		var out []ingest.TaskSpec
		for _, t := range ts {
			spec := ingest.TaskSpec{GevraagdeHandeling: t.GevraagdeHandeling, Toelichting: t.Toelichting}
			for _, e := range t.Eenheden {
				spec.Actors = append(spec.Actors, eenheden[e])
			}
			out = append(out, spec)
		}
		return out
	}
	router := &ingest.Router{Default: tasks(c.Routing.Default)}
	for _, r := range c.Routing.Rules {
		rule := ingest.Rule{
			Name: r.Name, Channels: r.When.Channels, Recipients: r.When.Recipients, SenderDomains: r.When.SenderDomains,
			Signals: r.When.Signals, Tasks: tasks(r.Tasks), Continue: r.Continue,
		}
		var err error
		if r.When.Subject != "" {
			if rule.Subject, err = regexp.Compile(r.When.Subject); err != nil {
				return nil, fmt.Errorf("routing rule %s: %w", r.Name, err)
			}
		}
		if r.When.Text != "" {
			if rule.Text, err = regexp.Compile(r.When.Text); err != nil {
				return nil, fmt.Errorf("routing rule %s: %w", r.Name, err)
			}
		}
		router.Rules = append(router.Rules, rule)
	}
	return router, nil
}

// channelDefaults are each channel's own defaults, with mapping.kanalen on top.
func channelDefaults(m config.Mapping) map[string]ingest.ChannelDefaults {
	channels := map[string]ingest.ChannelDefaults{}
	for _, ch := range channelList() {
		channels[ch.Name] = ch.Defaults
	}
	for k, v := range m.Kanalen {
		d := channels[k]
		d.Kanaal = v.Kanaal
		if v.AdresOmschrijving != "" {
			d.AdresOmschrijving = v.AdresOmschrijving
		}
		if z := v.Zaak; z != nil {
			d.ZaakCodes = &ingest.Identificator{CodeObjecttype: z.CodeObjecttype, CodeRegister: z.CodeRegister, CodeSoortObjectID: z.CodeSoortObjectID}
		}
		channels[k] = d
	}
	return channels
}

func zaakOptions(z config.Zaak) (ingest.ZaakOptions, error) {
	o := ingest.ZaakOptions{Uppercase: *z.Uppercase, CodeObjecttype: z.CodeObjecttype, CodeRegister: z.CodeRegister, CodeSoortObjectID: z.CodeSoortObjectID}
	for i, pat := range z.Patterns {
		if err := o.AddPattern(pat); err != nil {
			return o, fmt.Errorf("mapping.zaak.patterns[%d]: %w", i, err)
		}
	}
	return o, nil
}
