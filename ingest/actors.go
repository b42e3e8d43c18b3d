package ingest

// ActorSpec describes an actor the registration links to.
type ActorSpec struct {
	// UUID is the actor's uuid in Open Klant. Empty: derived from Naam and SoortActor.
	UUID         string
	Naam         string
	SoortActor   string // geautomatiseerde_actor, organisatorische_eenheid or medewerker
	Functie      string // geautomatiseerde_actor only, required there (≤40)
	Omschrijving string
	Emailadres   string // organisatorische_eenheid only
	// Telefoonnummer is a medewerker's phone number. Open Klant's Medewerker
	// actorIdentificatie requires functie and telefoonnummer, so a medewerker gets one
	// only when both are known (and a valid phone number); else only its
	// actoridentificator.
	Telefoonnummer string
	// Identificator identifies the actor in an external register (optional).
	Identificator *Identificator
}

// ID returns the actor's uuid.
func (a ActorSpec) ID() string {
	if a.UUID != "" {
		return a.UUID
	}
	return ID("actor", a.SoortActor, a.Naam)
}

// Actor returns the Open Klant actor record.
func (a ActorSpec) Actor() Actor {
	act := Actor{UUID: a.ID(), Naam: Clip(a.Naam, MaxNaam), SoortActor: a.SoortActor, IndicatieActief: true, Actoridentificator: a.Identificator}
	switch a.SoortActor {
	case "geautomatiseerde_actor":
		act.ActorIdentificatie = map[string]string{"functie": Clip(a.Functie, 40)}
		if a.Omschrijving != "" {
			act.ActorIdentificatie["omschrijving"] = Clip(a.Omschrijving, 200)
		}
	case "organisatorische_eenheid":
		m := map[string]string{}
		if a.Omschrijving != "" {
			m["omschrijving"] = Clip(a.Omschrijving, 200)
		}
		if a.Emailadres != "" {
			m["emailadres"] = a.Emailadres
		}
		if len(m) > 0 {
			act.ActorIdentificatie = m
		}
	case "medewerker":
		if a.Functie != "" && ValidPhone(a.Telefoonnummer) {
			act.ActorIdentificatie = map[string]string{"functie": Clip(a.Functie, 40), "telefoonnummer": a.Telefoonnummer}
			if a.Emailadres != "" && ValidEmail(a.Emailadres) {
				act.ActorIdentificatie["emailadres"] = a.Emailadres
			}
		}
	}
	return act
}

func containsActor(list []Actor, id string) bool {
	for _, x := range list {
		if x.UUID == id {
			return true
		}
	}
	return false
}

func appendActor(list []Actor, a Actor) []Actor {
	for _, x := range list {
		if x.UUID == a.UUID {
			return list
		}
	}
	return append(list, a)
}
