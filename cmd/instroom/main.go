// Command instroom is the intake worker of a municipal contact centre: it reads mail,
// letter scans and chat transcripts, registers each as a klantcontact with its bijlagen
// and interne taken, stores the originals and publishes the registration as events.
//
// Usage:
//
//	instroom run -config FILE [-once]   run the worker
//	instroom inspect [-config FILE] MAIL print the registration one .eml would produce
//	instroom check-config -config FILE  validate a configuration and print it, secrets hidden
//	instroom replay -config FILE [-dry-run] [-source NAME] [-reason R] [-ref REF | -dead-letters FILE]
//	                                    move failed items back to their source (-dry-run: list them)
//	instroom version                    print the version
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Environ())
	stop()
	os.Exit(code)
}
