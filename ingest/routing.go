package ingest

import (
	"regexp"
	"slices"
	"strings"
)

// Rule routes matching intakes to interne taken. Every condition that is set must hold.
type Rule struct {
	// Name identifies the rule in configuration errors and metrics.
	Name string
	// Channels the rule applies to; empty: all.
	Channels []string
	// Recipients: the intake was sent to one of these addresses (case-insensitive).
	Recipients []string
	// SenderDomains: the sender's address is at one of these domains.
	SenderDomains []string
	// Subject matches the full subject.
	Subject *regexp.Regexp
	// Text matches the full body text.
	Text *regexp.Regexp
	// Signals: the intake carries one of these signals ("auto-reply", "bounce", ...).
	Signals []string
	// Tasks are the interne taken to create. An empty list means: register the contact
	// without a task (for example for auto-replies).
	Tasks []TaskSpec
	// Continue: after this rule matched, go on evaluating the next rules and add their tasks.
	Continue bool
}

func (r *Rule) matches(in *Intake) bool {
	if len(r.Channels) > 0 && !slices.Contains(r.Channels, in.Channel) {
		return false
	}
	if len(r.Recipients) > 0 && !anyFold(r.Recipients, in.Recipients) {
		return false
	}
	if len(r.SenderDomains) > 0 {
		at := strings.LastIndexByte(in.Sender.Address, '@')
		if at < 0 || !anyFold(r.SenderDomains, []string{in.Sender.Address[at+1:]}) {
			return false
		}
	}
	if r.Subject != nil && !r.Subject.MatchString(in.Subject) {
		return false
	}
	if r.Text != nil && !r.Text.MatchString(in.Text) {
		return false
	}
	if len(r.Signals) > 0 && !anyFold(r.Signals, in.Signals) {
		return false
	}
	return true
}

func anyFold(want, have []string) bool {
	for _, w := range want {
		for _, h := range have {
			if strings.EqualFold(strings.TrimSpace(w), strings.TrimSpace(h)) {
				return true
			}
		}
	}
	return false
}

// Router chooses interne taken by rules, first match wins (unless the rule says Continue),
// with a default when no rule matched.
type Router struct {
	Rules   []Rule
	Default []TaskSpec
}

// Route returns the tasks for an intake.
func (r *Router) Route(in *Intake) []TaskSpec {
	tasks, matched := r.route(in)
	if !matched {
		return r.Default
	}
	return tasks
}

// route returns the tasks of the matching rules, and whether any matched.
func (r *Router) route(in *Intake) ([]TaskSpec, bool) {
	var out []TaskSpec
	matched := false
	for i := range r.Rules {
		rule := &r.Rules[i]
		if !rule.matches(in) {
			continue
		}
		matched = true
		out = append(out, rule.Tasks...)
		if !rule.Continue {
			return out, true
		}
	}
	if !matched {
		return r.Default, false
	}
	return out, true
}

// C1199Task is the default interne taak for a received e-mail (VNG case C1199).
func C1199Task(eenheid ActorSpec) TaskSpec {
	return TaskSpec{
		GevraagdeHandeling: "Lezen en bepalen benodigde actie",
		Toelichting:        "Aangemaakt naar aanleiding van een ontvangen e-mail",
		Actors:             []ActorSpec{eenheid},
	}
}
