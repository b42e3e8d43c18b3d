package chat

import (
	"strings"
	"time"
	_ "time/tzdata" // Europe/Amsterdam without the system's zone files
)

// amsterdam is the zone of the rendered times; UTC only if the embedded zone data fails.
var amsterdam = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		return time.UTC
	}
	return loc
}()

// parseTijdstip reads an RFC 3339 date-time with offset; a leap second counts as :59
// (time.Parse refuses :60). The schema has checked the form.
func parseTijdstip(s string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t, err = time.Parse(time.RFC3339Nano, strings.Replace(s, ":60", ":59", 1))
	}
	return t, err == nil
}

// render is the transcript as text (contracts/intake-api.md §9): one line per message in
// array order, "HH:MM <wie>: <tekst>" with the time in Europe/Amsterdam, each attachment
// adding " [bijlage: <bestandsnaam>]"; newlines inside a text are kept.
func render(g *Gesprek) string {
	var b strings.Builder
	for i, m := range g.Berichten {
		if i > 0 {
			b.WriteByte('\n')
		}
		if t, ok := parseTijdstip(m.Tijdstip); ok {
			b.WriteString(t.In(amsterdam).Format("15:04"))
		} else {
			b.WriteString("--:--")
		}
		b.WriteByte(' ')
		b.WriteString(wie(m))
		b.WriteByte(':')
		if m.Tekst != "" {
			b.WriteByte(' ')
			b.WriteString(strings.ReplaceAll(m.Tekst, "\r\n", "\n"))
		}
		for _, a := range m.Bijlagen {
			b.WriteString(" [bijlage: ")
			b.WriteString(a.Bestandsnaam)
			b.WriteByte(']')
		}
	}
	return b.String()
}

func wie(m Bericht) string {
	switch m.Van {
	case "klant":
		return "Klant"
	case "bot":
		return "Chatbot"
	}
	if m.Medewerker != nil && strings.TrimSpace(m.Medewerker.Naam) != "" {
		return "Medewerker " + strings.TrimSpace(m.Medewerker.Naam)
	}
	return "Medewerker"
}
