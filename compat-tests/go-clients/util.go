package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"
)

var debug = os.Getenv("COMPAT_DEBUG") == "1"

func setupLogging() {
	if debug {
		sarama.Logger = log.New(os.Stderr, "[sarama] ", log.LstdFlags|log.Lmicroseconds)
	}
}

// unique returns prefix-<8 hex digits>, a fresh topic, group or transactional id per run.
func unique(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// expectEq fails with what, the expected and the actual value when they differ (reflect.DeepEqual).
func expectEq(what string, want, got any) error {
	if !reflect.DeepEqual(want, got) {
		return fmt.Errorf("%s: expected %v but got %v", what, show(want), show(got))
	}
	return nil
}

func show(v any) string {
	s := fmt.Sprintf("%+v", v)
	if len(s) > 600 {
		s = s[:600] + "...(cut)"
	}
	return s
}

// firstErr returns the first non-nil error of errs.
func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// waitFor polls cond every 100 ms until it returns true, ctx ends or limit passes; the error
// names what was awaited and the last reason cond gave.
func waitFor(ctx context.Context, limit time.Duration, what string, cond func() (bool, string)) error {
	deadline := time.Now().Add(limit)
	last := ""
	for {
		ok, why := cond()
		if ok {
			return nil
		}
		last = why
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not reached within %s (last: %s)", what, limit, last)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (last: %s)", what, ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// kgoOpts are the options every franz-go client here starts from.
func kgoOpts(bootstrap string, more ...kgo.Opt) []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(bootstrap),
		kgo.ClientID("odradek-compat-go"),
		// no AllowAutoTopicCreation: every scenario creates its topics, and a metadata request
		// that may create would bring a deleted topic back (kadm-topics)
		kgo.RetryTimeout(20 * time.Second),
	}
	if debug {
		opts = append(opts, kgo.WithLogger(kgo.BasicLogger(os.Stderr, kgo.LogLevelDebug, func() string {
			return "[kgo] " + time.Now().Format("15:04:05.000") + " "
		})))
	}
	return append(opts, more...)
}

// sortedKeys returns the keys of a map with int32 keys, ascending.
func sortedKeys[V any](m map[int32]V) []int32 {
	ks := make([]int32, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i] < ks[j] })
	return ks
}

// dense reports whether offsets, sorted, are exactly from, from+1, ..., from+len-1.
func dense(offsets []int64, from int64) error {
	s := append([]int64(nil), offsets...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	for i, o := range s {
		if o != from+int64(i) {
			return fmt.Errorf("offsets not dense from %d: position %d holds %d (all: %s)", from, i, o, show(s))
		}
	}
	return nil
}

func joinInts(xs []int32) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprint(x)
	}
	return strings.Join(parts, ",")
}
