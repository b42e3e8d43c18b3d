package bus_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/instroom/instroom/ingest/ingesttest"
	"github.com/instroom/instroom/storage/bus"
)

// owners records which member works on which partition, and fails the test when two
// members work on one partition at the same time.
type owners struct {
	t  *testing.T
	mu sync.Mutex
	by map[int]string
}

func (o *owners) take(member string, parts []int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, p := range parts {
		if other, ok := o.by[p]; ok && other != member {
			o.t.Errorf("partition %d taken by %s while %s still works on it", p, member, other)
		}
		o.by[p] = member
	}
}

func (o *owners) release(member string, parts []int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, p := range parts {
		if o.by[p] == member {
			delete(o.by, p)
		}
	}
}

func (o *owners) snapshot() map[int]string {
	o.mu.Lock()
	defer o.mu.Unlock()
	m := map[int]string{}
	for k, v := range o.by {
		m[k] = v
	}
	return m
}

// Three members share six partitions: every partition is worked on by exactly one member
// at a time, all are covered, and when a member leaves its partitions move to the others.
func TestGroupLeases(t *testing.T) {
	k := ingesttest.StartBroker(t, ingesttest.KafkaOptions{})
	pub, err := bus.NewKafka(bus.KafkaOptions{Brokers: []string{k.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	opts := bus.GroupOptions{ID: "instroom-test", Topic: "instroom.sources", Partitions: 6, SessionTimeout: 6 * time.Second, RebalanceTimeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if n, err := pub.Group(opts).Ensure(ctx); err != nil || n != 6 {
		t.Fatalf("Ensure = %d, %v; want 6 partitions", n, err)
	}
	o := &owners{t: t, by: map[int]string{}}
	stops := map[string]context.CancelFunc{}
	var wg sync.WaitGroup
	for i := range 3 {
		name := fmt.Sprintf("m%d", i)
		mctx, stop := context.WithCancel(ctx)
		stops[name] = stop
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := pub.Group(opts).Run(mctx, func(wctx context.Context, parts []int) {
				o.take(name, parts)
				<-wctx.Done()
				time.Sleep(50 * time.Millisecond) // draining
				o.release(name, parts)
			})
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}()
	}
	waitOwners := func(what string, ok func(map[int]string) bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !ok(o.snapshot()) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: owners %v", what, o.snapshot())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	spread := func(members int) func(map[int]string) bool {
		return func(m map[int]string) bool {
			seen := map[string]bool{}
			for _, v := range m {
				seen[v] = true
			}
			return len(m) == 6 && len(seen) == members
		}
	}
	waitOwners("three members share six partitions", spread(3))
	stops["m1"]()
	waitOwners("two members take over the third's partitions", func(m map[int]string) bool {
		for _, v := range m {
			if v == "m1" {
				return false
			}
		}
		return spread(2)(m)
	})
	cancel()
	wg.Wait()
}
