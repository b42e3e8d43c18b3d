package main

import (
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

// A test-only CPU profile of the worker run as its own process (the test binary acting as
// instroom, INSTROOM_TEST_AS_MAIN=1): with INSTROOM_TEST_CPUPROFILE=FILE the process
// profiles from its start until it gets SIGUSR1, then writes FILE, its allocations since
// the start to FILE.allocs (go tool pprof -sample_index=alloc_space), and FILE.done. The
// production binary has no such knob.
func init() {
	path := os.Getenv("INSTROOM_TEST_CPUPROFILE")
	if os.Getenv("INSTROOM_TEST_AS_MAIN") != "1" || path == "" {
		return
	}
	os.Unsetenv("INSTROOM_TEST_CPUPROFILE") // not a setting: the configuration refuses unknown INSTROOM_ variables
	f, err := os.Create(path)
	if err != nil {
		return
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return
	}
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	go func() {
		<-usr1
		pprof.StopCPUProfile()
		f.Close()
		if a, err := os.Create(path + ".allocs"); err == nil {
			pprof.Lookup("allocs").WriteTo(a, 0)
			a.Close()
		}
		os.WriteFile(path+".done", nil, 0o644)
	}()
}
