// Command go-clients runs the Go stock-client scenarios (franz-go kgo and kadm, IBM sarama,
// segmentio kafka-go) against one Kafka-protocol broker.
//
//	usage: go-clients BOOTSTRAP [scenario ...]    (no scenario: all of them, in the order below)
//	       go-clients -list                       (the scenario names)
//
// Every scenario prints "PASS go-clients/NAME (1.2s) info" or "FAIL go-clients/NAME (1.2s): why" and
// appends "PASS go-clients/NAME" / "FAIL go-clients/NAME" to $COMPAT_RESULTS when that is set. The
// process exits 1 when any scenario failed, 2 on a usage error.
//
// env: COMPAT_DEBUG=1                protocol-level client logs on stderr (kgo debug, sarama's logger,
//
//	                               kafka-go's Logger)
//	COMPAT_SCENARIO_TIMEOUT=SECONDS  the deadline of one scenario's context (default 60); a scenario
//	                               that has not returned 15 s after it is failed and left behind
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

const label = "go-clients"

type scenario struct {
	name string
	run  func(ctx context.Context, bootstrap string) (string, error)
}

// The order is the run order when no name is given.
var scenarios = []scenario{
	{"kgo-produce-consume", kgoProduceConsume},
	{"kgo-idempotent", kgoIdempotent},
	{"kgo-group", kgoGroup},
	{"kgo-txn-ctp", kgoTxnConsumeTransformProduce},
	{"kadm-topics", kadmTopics},
	{"kadm-configs", kadmConfigs},
	{"kadm-offsets", kadmOffsets},
	{"kadm-groups", kadmGroups},
	{"kadm-txns", kadmTransactions},
	{"sarama-producer", saramaProducer},
	{"sarama-group", saramaGroup},
	{"sarama-admin", saramaAdmin},
	{"kafkago-writer-reader", kafkagoWriterReader},
	{"kafkago-conn", kafkagoConn},
}

func main() {
	if len(os.Args) == 2 && os.Args[1] == "-list" {
		for _, s := range scenarios {
			fmt.Println(s.name)
		}
		return
	}
	if len(os.Args) < 2 || strings.HasPrefix(os.Args[1], "-") {
		fmt.Fprintln(os.Stderr, "usage: go-clients BOOTSTRAP [scenario ...] | go-clients -list")
		os.Exit(2)
	}
	bootstrap := os.Args[1]
	names := os.Args[2:]
	if len(names) == 0 {
		for _, s := range scenarios {
			names = append(names, s.name)
		}
	}
	limit := 60 * time.Second
	if v := os.Getenv("COMPAT_SCENARIO_TIMEOUT"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			limit = time.Duration(n) * time.Second
		}
	}
	setupLogging()

	failed := 0
	for _, name := range names {
		var sc *scenario
		for i := range scenarios {
			if scenarios[i].name == name {
				sc = &scenarios[i]
			}
		}
		start := time.Now()
		var info string
		var err error
		if sc == nil {
			err = fmt.Errorf("no such scenario (go-clients -list names them)")
		} else {
			info, err = runOne(sc, bootstrap, limit)
		}
		secs := time.Since(start).Seconds()
		verdict := "PASS"
		if err != nil {
			failed++
			verdict = "FAIL"
			fmt.Printf("FAIL %s/%s (%.1fs): %v\n", label, name, secs, err)
		} else {
			fmt.Printf("PASS %s/%s (%.1fs) %s\n", label, name, secs, info)
		}
		if path := os.Getenv("COMPAT_RESULTS"); path != "" {
			if f, ferr := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); ferr == nil {
				fmt.Fprintf(f, "%s %s/%s\n", verdict, label, name)
				f.Close()
			}
		}
	}
	fmt.Printf("[%s] %d passed, %d failed\n", label, len(names)-failed, failed)
	if failed > 0 {
		os.Exit(1)
	}
}

// runOne runs a scenario under a context with the deadline; a scenario that ignores its context
// and has not returned 15 s after the deadline is reported as failed (its goroutine is left).
func runOne(sc *scenario, bootstrap string, limit time.Duration) (info string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	type result struct {
		info string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- result{"", fmt.Errorf("panic: %v", r)}
			}
		}()
		i, e := sc.run(ctx, bootstrap)
		if e != nil && ctx.Err() != nil && !errors.Is(e, context.DeadlineExceeded) {
			e = fmt.Errorf("%w (scenario deadline of %s passed)", e, limit)
		}
		done <- result{i, e}
	}()
	select {
	case r := <-done:
		return r.info, r.err
	case <-time.After(limit + 15*time.Second):
		return "", fmt.Errorf("did not return within %s after its %s deadline", 15*time.Second, limit)
	}
}
