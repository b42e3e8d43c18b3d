// Command kfake runs franz-go's kfake Kafka cluster as its own broker process, for
// Instroom's integration tests and benchmarks. It is not part of Instroom.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	port := flag.Int("port", 9092, "port of the (single) broker")
	topics := flag.String("topics", "", "comma-separated topics to create at start")
	partitions := flag.Int("partitions", 3, "default partitions per topic")
	saslUser := flag.String("sasl-user", "", "require SASL (PLAIN and SCRAM-SHA-512) with this user")
	saslPass := flag.String("sasl-pass", "", "password of -sasl-user")
	dataDir := flag.String("data-dir", "", "persist the log here (survives a restart)")
	tlsCert := flag.String("tls-cert", "", "serve TLS with this certificate (PEM)")
	tlsKey := flag.String("tls-key", "", "key of -tls-cert (PEM)")
	flag.Parse()

	opts := []kfake.Opt{kfake.Ports(*port), kfake.NumBrokers(1), kfake.DefaultNumPartitions(*partitions), kfake.AllowAutoTopicCreation()}
	if *topics != "" {
		opts = append(opts, kfake.SeedTopics(int32(*partitions), strings.Split(*topics, ",")...))
	}
	if *dataDir != "" {
		opts = append(opts, kfake.DataDir(*dataDir), kfake.SyncWrites())
	}
	if *tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
		if err != nil {
			log.Fatal(err)
		}
		opts = append(opts, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}}))
	}
	if *saslUser != "" {
		opts = append(opts, kfake.EnableSASL(),
			kfake.Superuser("PLAIN", *saslUser, *saslPass),
			kfake.Superuser("SCRAM-SHA-512", *saslUser, *saslPass))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("kfake listening on", strings.Join(c.ListenAddrs(), ","))
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	c.Close()
}
