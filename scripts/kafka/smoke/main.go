// Smoke test for a Kafka broker at $KAFKA_ADDR using github.com/segmentio/kafka-go.
//
//  1. create a 3-partition topic, produce N (default 10000) ~1 KiB messages with
//     RequiredAcks=RequireAll in batches, report msg/s;
//  2. consume them back with a consumer group (GroupID) and check the count;
//  3. two members of one group on a 3-partition topic: close one, check the
//     other ends up owning all 3 partitions, report the rebalance time.
//
// The last line, "RESULT key=value ...", holds the figures for scripts/kafka/bench.sh.
// Exit code 0 only when every check passed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
)

func main() {
	addr := flag.String("addr", os.Getenv("KAFKA_ADDR"), "broker host:port (default $KAFKA_ADDR)")
	n := flag.Int("n", 10000, "messages to produce and consume")
	size := flag.Int("size", 1024, "message value size in bytes")
	batch := flag.Int("batch", 1000, "messages per WriteMessages call")
	hb := flag.Duration("heartbeat", time.Second, "consumer-group heartbeat interval for the rebalance test")
	flag.Parse()
	if *addr == "" {
		fail("no broker address: set KAFKA_ADDR or -addr")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	topic := "smoke-" + suffix
	createTopic(ctx, *addr, topic, 3)
	produceRate := produce(ctx, *addr, topic, *n, *size, *batch)

	// The first group request makes the broker create __consumer_offsets; until it is
	// loaded, kafka-go's reader waits its JoinGroupBackoff (5 s) after each refusal.
	start := time.Now()
	waitCoordinator(ctx, *addr)
	coordinator := time.Since(start)
	fmt.Printf("COORDINATOR ok: group coordinator available after %.2fs\n", coordinator.Seconds())
	consumed := consume(ctx, *addr, topic, "smoke-g1-"+suffix, *n, *hb)

	join, leave := rebalance(ctx, *addr, "smoke-rb-"+suffix, "smoke-g2-"+suffix, *hb)
	fmt.Println("ALL OK")
	fmt.Printf("RESULT produce_msg_s=%.0f produce_mb_s=%.1f coordinator_s=%.2f consume_s=%.2f rebalance_join_s=%.2f rebalance_leave_s=%.2f\n",
		produceRate, produceRate*float64(*size)/1e6, coordinator.Seconds(), consumed.Seconds(), join.Seconds(), leave.Seconds())
}

// produce writes n messages of size bytes in WriteMessages calls of batch, acks=all, and
// returns the rate in messages per second.
func produce(ctx context.Context, addr, topic string, n, size, batch int) float64 {
	w := &kafka.Writer{
		Addr:         kafka.TCP(addr),
		Topic:        topic,
		RequiredAcks: kafka.RequireAll,
		Balancer:     &kafka.RoundRobin{},
		BatchSize:    batch,
		BatchBytes:   int64(batch) * int64(size+128),
		BatchTimeout: 5 * time.Millisecond,
	}
	val := make([]byte, size)
	for i := range val {
		val[i] = byte('a' + i%26)
	}
	start := time.Now()
	msgs := make([]kafka.Message, 0, batch)
	for i := 0; i < n; i++ {
		msgs = append(msgs, kafka.Message{Key: []byte(strconv.Itoa(i)), Value: val})
		if len(msgs) == batch || i == n-1 {
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				fail("produce: %v", err)
			}
			msgs = msgs[:0]
		}
	}
	el := time.Since(start)
	if err := w.Close(); err != nil {
		fail("writer close: %v", err)
	}
	fmt.Printf("PRODUCE ok: %d msgs x %d B, acks=all, %.2fs, %.0f msg/s, %.1f MB/s\n",
		n, size, el.Seconds(), float64(n)/el.Seconds(), float64(n*size)/el.Seconds()/1e6)
	return float64(n) / el.Seconds()
}

// consume reads the n messages back in a consumer group and returns how long that took,
// joining the group included.
func consume(ctx context.Context, addr, topic, group string, n int, hb time.Duration) time.Duration {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:           []string{addr},
		GroupID:           group,
		Topic:             topic,
		StartOffset:       kafka.FirstOffset,
		MinBytes:          1,
		MaxBytes:          10 << 20,
		MaxWait:           200 * time.Millisecond,
		HeartbeatInterval: hb,
		CommitInterval:    time.Second,
	})
	seen := make(map[string]bool, n)
	perPart := map[int]int{}
	start := time.Now()
	cctx, ccancel := context.WithTimeout(ctx, 2*time.Minute)
	defer ccancel()
	for len(seen) < n {
		m, err := r.ReadMessage(cctx)
		if err != nil {
			fail("consume after %d/%d: %v", len(seen), n, err)
		}
		seen[string(m.Key)] = true
		perPart[m.Partition]++
	}
	el := time.Since(start)
	if err := r.Close(); err != nil {
		fail("reader close: %v", err)
	}
	fmt.Printf("CONSUME ok: %d distinct msgs via group in %.2fs (incl. join), per partition %v\n", len(seen), el.Seconds(), perPart)
	return el
}

func createTopic(ctx context.Context, addr, topic string, parts int) {
	c := &kafka.Client{Addr: kafka.TCP(addr), Timeout: 30 * time.Second}
	res, err := c.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic: topic, NumPartitions: parts, ReplicationFactor: 1,
	}}})
	if err != nil {
		fail("create topic %s: %v", topic, err)
	}
	if e := res.Errors[topic]; e != nil && !errors.Is(e, kafka.TopicAlreadyExists) {
		fail("create topic %s: %v", topic, e)
	}
	// wait until metadata shows every partition with a leader
	deadline := time.Now().Add(30 * time.Second)
	for {
		md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
		if err == nil && len(md.Topics) == 1 && md.Topics[0].Error == nil && len(md.Topics[0].Partitions) == parts {
			ok := true
			for _, p := range md.Topics[0].Partitions {
				if p.Error != nil || p.Leader.ID < 0 {
					ok = false
				}
			}
			if ok {
				return
			}
		}
		if time.Now().After(deadline) {
			fail("topic %s not ready: %v", topic, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitCoordinator waits until the group coordinator answers: FindCoordinator creates
// __consumer_offsets, then OffsetFetch says "group load in progress" until it is loaded.
func waitCoordinator(ctx context.Context, addr string) {
	c := &kafka.Client{Addr: kafka.TCP(addr), Timeout: 10 * time.Second}
	deadline := time.Now().Add(time.Minute)
	for {
		res, err := c.FindCoordinator(ctx, &kafka.FindCoordinatorRequest{Key: "smoke", KeyType: kafka.CoordinatorKeyTypeConsumer})
		if err == nil && res.Error == nil {
			off, err := c.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: "smoke"})
			if err == nil && !coordinatorBusy(off.Error) {
				return
			}
		}
		if time.Now().After(deadline) {
			fail("no group coordinator after a minute")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// coordinatorBusy: the group coordinator is not there yet, or still loading.
func coordinatorBusy(err error) bool {
	return errors.Is(err, kafka.GroupLoadInProgress) || errors.Is(err, kafka.GroupCoordinatorNotAvailable) ||
		errors.Is(err, kafka.NotCoordinatorForGroup)
}

func partitionsOf(gen *kafka.Generation, topic string) []int {
	var ps []int
	for _, a := range gen.Assignments[topic] {
		ps = append(ps, a.ID)
	}
	sort.Ints(ps)
	return ps
}

// member joins the group and sends every generation's partitions to ch.
func member(ctx context.Context, cg *kafka.ConsumerGroup, topic string, ch chan<- []int) {
	for {
		gen, err := cg.Next(ctx)
		if err != nil {
			return // closed or ctx done
		}
		ch <- partitionsOf(gen, topic)
		// hold the generation until it ends (kafka-go closes gen.Done on rebalance)
		gen.Start(func(c context.Context) { <-c.Done() })
	}
}

// rebalance returns how long the group took to rebalance when a second member joined, and
// when it left.
func rebalance(ctx context.Context, addr, topic, group string, hb time.Duration) (join, leave time.Duration) {
	createTopic(ctx, addr, topic, 3)
	mk := func() *kafka.ConsumerGroup {
		cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
			ID:                group,
			Brokers:           []string{addr},
			Topics:            []string{topic},
			HeartbeatInterval: hb,
			SessionTimeout:    10 * time.Second,
			RebalanceTimeout:  10 * time.Second,
			JoinGroupBackoff:  200 * time.Millisecond,
		})
		if err != nil {
			fail("consumer group: %v", err)
		}
		return cg
	}
	ch1, ch2 := make(chan []int, 16), make(chan []int, 16)
	cg1 := mk()
	go member(ctx, cg1, topic, ch1)
	wait := func(ch chan []int, want func([]int) bool, what string, d time.Duration) []int {
		t := time.After(d)
		for {
			select {
			case ps := <-ch:
				if want(ps) {
					return ps
				}
			case <-t:
				fail("rebalance: timed out waiting for %s", what)
			}
		}
	}
	p1 := wait(ch1, func(p []int) bool { return len(p) == 3 }, "member 1 to own 3 partitions", 60*time.Second)
	fmt.Printf("REBALANCE member1 alone: %v\n", p1)
	cg2 := mk()
	go member(ctx, cg2, topic, ch2)
	t0 := time.Now()
	p2 := wait(ch2, func(p []int) bool { return len(p) > 0 }, "member 2 to get partitions", 60*time.Second)
	p1 = wait(ch1, func(p []int) bool { return len(p) > 0 && len(p) < 3 }, "member 1 to give up partitions", 60*time.Second)
	join = time.Since(t0)
	fmt.Printf("REBALANCE join of member2 took %v: member1=%v member2=%v\n", join.Round(time.Millisecond), p1, p2)
	t0 = time.Now()
	if err := cg2.Close(); err != nil {
		fail("close member2: %v", err)
	}
	p1 = wait(ch1, func(p []int) bool { return len(p) == 3 }, "member 1 to own all 3 partitions again", 60*time.Second)
	leave = time.Since(t0)
	fmt.Printf("REBALANCE ok: after closing member2, member1 owns %v; %v from Close() (heartbeat %v)\n",
		p1, leave.Round(time.Millisecond), hb)
	_ = cg1.Close()
	return join, leave
}

func fail(f string, a ...any) {
	fmt.Fprintf(os.Stderr, "FAIL: "+f+"\n", a...)
	os.Exit(1)
}
