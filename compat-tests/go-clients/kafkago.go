package main

// segmentio kafka-go (github.com/segmentio/kafka-go) scenarios: Writer + group Reader, and the
// low-level Conn.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"sort"
	"strconv"
	"time"

	kafka "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
)

func kafkagoLogger(prefix string) kafka.Logger {
	if !debug {
		return nil
	}
	return log.New(os.Stderr, "[kafka-go "+prefix+"] ", log.LstdFlags|log.Lmicroseconds)
}

func kafkagoHeaders(hs []kafka.Header) string {
	var b bytes.Buffer
	for _, h := range hs {
		fmt.Fprintf(&b, "%s=%s;", h.Key, h.Value)
	}
	return b.String()
}

// kafkago-writer-reader: kafka.Client CreateTopics (3 partitions); a Writer with the Hash balancer
// and RequiredAcks=all writes 150 keyed messages with headers; a Reader with a GroupID reads every
// one back exactly once: each on the partition kafka.Hash gives its key, key/value/headers intact,
// offsets dense per partition, every partition used; after Close the group's committed offsets
// (OffsetFetch) are the per-partition counts.
func kafkagoWriterReader(ctx context.Context, bs string) (string, error) {
	topic, group := unique("go-kafkago-wr"), unique("go-kafkago-g")
	client := &kafka.Client{Addr: kafka.TCP(bs), Timeout: 15 * time.Second}
	ct, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: 3, ReplicationFactor: 1}}})
	if err == nil {
		err = ct.Errors[topic]
	}
	if err != nil {
		return "", fmt.Errorf("create topics: %w", err)
	}
	if err := waitFor(ctx, 30*time.Second, topic+" in metadata", func() (bool, string) {
		md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
		if err != nil {
			return false, err.Error()
		}
		if len(md.Topics) != 1 || md.Topics[0].Error != nil || len(md.Topics[0].Partitions) != 3 {
			return false, fmt.Sprintf("%+v", md.Topics)
		}
		return true, ""
	}); err != nil {
		return "", err
	}
	w := &kafka.Writer{Addr: kafka.TCP(bs), Topic: topic, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll,
		BatchSize: 40, BatchTimeout: 10 * time.Millisecond, Logger: kafkagoLogger("writer"), ErrorLogger: kafkagoLogger("writer")}
	const n = 150
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		msgs[i] = kafka.Message{
			Key:     []byte(fmt.Sprintf("kg-%02d", i%20)),
			Value:   []byte(fmt.Sprintf("kafka-go-value-%03d", i)),
			Headers: []kafka.Header{{Key: "i", Value: []byte(strconv.Itoa(i))}, {Key: "client", Value: []byte("kafka-go")}},
		}
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		w.Close()
		return "", fmt.Errorf("write messages: %w", err)
	}
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("writer close: %w", err)
	}
	type sent struct {
		partition int
		headers   string
		key       string
	}
	want := map[string]sent{} // by value
	for _, m := range msgs {
		want[string(m.Value)] = sent{(&kafka.Hash{}).Balance(m, 0, 1, 2), kafkagoHeaders(m.Headers), string(m.Key)}
	}

	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: []string{bs}, GroupID: group, Topic: topic, StartOffset: kafka.FirstOffset,
		MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 250 * time.Millisecond, CommitInterval: 0,
		HeartbeatInterval: 500 * time.Millisecond, SessionTimeout: 10 * time.Second, RebalanceTimeout: 10 * time.Second,
		Logger: kafkagoLogger("reader"), ErrorLogger: kafkagoLogger("reader"),
	})
	defer r.Close()
	offsets := map[int][]int64{}
	seen := map[string]bool{}
	deadline := time.Now().Add(40 * time.Second)
	for len(seen) < n {
		rctx, cancel := context.WithDeadline(ctx, deadline)
		m, err := r.ReadMessage(rctx) // commits synchronously (CommitInterval 0)
		cancel()
		if err != nil {
			return "", fmt.Errorf("read message %d of %d: %w", len(seen)+1, n, err)
		}
		s, ok := want[string(m.Value)]
		if !ok || seen[string(m.Value)] {
			return "", fmt.Errorf("read %q at %d@%d: expected %v, read before %v", m.Value, m.Partition, m.Offset, ok, seen[string(m.Value)])
		}
		seen[string(m.Value)] = true
		if m.Partition != s.partition || string(m.Key) != s.key || kafkagoHeaders(m.Headers) != s.headers || m.Topic != topic {
			return "", fmt.Errorf("read %q from %s[%d] key %q headers %s, expected partition %d (kafka.Hash) key %q headers %s",
				m.Value, m.Topic, m.Partition, m.Key, kafkagoHeaders(m.Headers), s.partition, s.key, s.headers)
		}
		offsets[m.Partition] = append(offsets[m.Partition], m.Offset)
	}
	// nothing more: a short read must time out
	extra, cancel := context.WithTimeout(ctx, time.Second)
	m, err := r.ReadMessage(extra)
	cancel()
	if err == nil {
		return "", fmt.Errorf("read an extra message %q at %d@%d", m.Value, m.Partition, m.Offset)
	}
	if len(offsets) != 3 {
		return "", fmt.Errorf("20 keys used only %d partitions", len(offsets))
	}
	counts := map[int]int64{}
	for p, offs := range offsets {
		if err := dense(offs, 0); err != nil {
			return "", fmt.Errorf("partition %d: %w", p, err)
		}
		counts[p] = int64(len(offs))
	}
	if err := r.Close(); err != nil {
		return "", fmt.Errorf("reader close: %w", err)
	}
	of, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: {0, 1, 2}}})
	if err == nil {
		err = of.Error
	}
	if err != nil {
		return "", fmt.Errorf("offset fetch: %w", err)
	}
	committed := map[int]int64{}
	for _, p := range of.Topics[topic] {
		if p.Error != nil {
			return "", fmt.Errorf("offset fetch partition %d: %w", p.Partition, p.Error)
		}
		committed[p.Partition] = p.CommittedOffset
	}
	if err := expectEq("committed offsets", counts, committed); err != nil {
		return "", err
	}
	return fmt.Sprintf("partitions %d/%d/%d", counts[0], counts[1], counts[2]), nil
}

// kafkago-conn: kafka.DialContext; Controller and Brokers name the one broker; CreateTopics on
// the controller's Conn (2 partitions, retention.ms); ReadPartitions: 2 partitions led by it, with
// replicas and ISR [it]; DialLeader partition 0 writes 10 messages (timestamps base+0s..9s)
// and 5 snappy-compressed ones (WriteCompressedMessagesAt answers partition 0, base offset 10);
// ReadOffsets 0/15, ReadOffset(base+3.5s) 4; Seek(3) + ReadBatch reads offsets 3..14 exactly
// (key, value, headers, timestamp); partition 1 ReadOffsets 0/0; DeleteTopics, after which
// ReadPartitions() (all topics) no longer lists it.
func kafkagoConn(ctx context.Context, bs string) (string, error) {
	topic := unique("go-kafkago-conn")
	conn, err := kafka.DialContext(ctx, "tcp", bs)
	if err != nil {
		return "", fmt.Errorf("dial: %w", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(50 * time.Second))
	ctrl, err := conn.Controller()
	if err != nil {
		return "", fmt.Errorf("controller: %w", err)
	}
	brokers, err := conn.Brokers()
	if err != nil || len(brokers) != 1 || brokers[0].ID != ctrl.ID {
		return "", fmt.Errorf("brokers: %v %+v, controller %+v", err, brokers, ctrl)
	}
	cc, err := kafka.DialContext(ctx, "tcp", net.JoinHostPort(ctrl.Host, strconv.Itoa(ctrl.Port)))
	if err != nil {
		return "", fmt.Errorf("dial the controller %+v: %w", ctrl, err)
	}
	defer cc.Close()
	_ = cc.SetDeadline(time.Now().Add(50 * time.Second))
	if err := cc.CreateTopics(kafka.TopicConfig{Topic: topic, NumPartitions: 2, ReplicationFactor: 1,
		ConfigEntries: []kafka.ConfigEntry{{ConfigName: "retention.ms", ConfigValue: "86400000"}}}); err != nil {
		return "", fmt.Errorf("create topics: %w", err)
	}
	var parts []kafka.Partition
	if err := waitFor(ctx, 30*time.Second, topic+" partitions", func() (bool, string) {
		parts, err = conn.ReadPartitions(topic)
		if err != nil {
			return false, err.Error()
		}
		return len(parts) == 2, fmt.Sprintf("%d partitions", len(parts))
	}); err != nil {
		return "", err
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].ID < parts[j].ID })
	for i, p := range parts {
		if p.Topic != topic || p.ID != i || p.Leader.ID != ctrl.ID || len(p.Replicas) != 1 || p.Replicas[0].ID != ctrl.ID ||
			len(p.Isr) != 1 || p.Isr[0].ID != ctrl.ID || p.Error != nil {
			return "", fmt.Errorf("read partitions: %+v; expected partition %d of %s led by %d with replicas and ISR [%d]", p, i, topic, ctrl.ID, ctrl.ID)
		}
	}

	leader, err := kafka.DialLeader(ctx, "tcp", bs, topic, 0)
	if err != nil {
		return "", fmt.Errorf("dial leader: %w", err)
	}
	defer leader.Close()
	_ = leader.SetDeadline(time.Now().Add(40 * time.Second))
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	var msgs []kafka.Message
	for i := 0; i < 15; i++ {
		msgs = append(msgs, kafka.Message{Key: []byte(fmt.Sprintf("c%d", i)), Value: []byte(fmt.Sprintf("conn-value-%02d", i)),
			Headers: []kafka.Header{{Key: "n", Value: []byte(strconv.Itoa(i))}}, Time: base.Add(time.Duration(i) * time.Second)})
	}
	// Kafka may answer NOT_LEADER_OR_FOLLOWER for a moment after the topic shows up in metadata
	// (the partition's leadership is applied after the metadata change): retry that, bounded
	var writeErr error
	if err := waitFor(ctx, 10*time.Second, "the first write to partition 0", func() (bool, string) {
		_, writeErr = leader.WriteMessages(msgs[:10]...)
		return !errors.Is(writeErr, kafka.NotLeaderForPartition), fmt.Sprint(writeErr)
	}); err != nil {
		return "", err
	}
	if writeErr != nil {
		return "", fmt.Errorf("write messages: %w", writeErr)
	}
	_, part, off, _, err := leader.WriteCompressedMessagesAt(compress.Snappy.Codec(), msgs[10:]...)
	if err != nil {
		return "", fmt.Errorf("write compressed messages: %w", err)
	}
	if part != 0 || off != 10 {
		return "", fmt.Errorf("compressed write answered partition %d offset %d, expected 0 and 10", part, off)
	}
	first, last, err := leader.ReadOffsets()
	if err != nil || first != 0 || last != 15 {
		return "", fmt.Errorf("read offsets: %v, first %d last %d; expected 0 and 15", err, first, last)
	}
	at, err := leader.ReadOffset(base.Add(3500 * time.Millisecond))
	if err != nil || at != 4 {
		return "", fmt.Errorf("read offset at base+3.5s: %v, %d; expected 4", err, at)
	}
	if _, err := leader.Seek(3, kafka.SeekAbsolute); err != nil {
		return "", fmt.Errorf("seek 3: %w", err)
	}
	var got []kafka.Message
	for attempt := 0; len(got) < 12 && attempt < 20; attempt++ {
		batch := leader.ReadBatch(1, 1<<20)
		for {
			m, err := batch.ReadMessage()
			if err != nil {
				break
			}
			got = append(got, m)
		}
		if err := batch.Close(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return "", fmt.Errorf("batch after %d messages: %w", len(got), err)
		}
	}
	if len(got) != 12 {
		return "", fmt.Errorf("read %d messages from offset 3, expected 12", len(got))
	}
	for i, m := range got {
		w := msgs[i+3]
		if m.Offset != int64(i+3) || !bytes.Equal(m.Key, w.Key) || !bytes.Equal(m.Value, w.Value) ||
			kafkagoHeaders(m.Headers) != kafkagoHeaders(w.Headers) || !m.Time.Equal(w.Time) {
			return "", fmt.Errorf("read offset %d key %q value %q headers %s time %v; expected offset %d key %q value %q headers %s time %v",
				m.Offset, m.Key, m.Value, kafkagoHeaders(m.Headers), m.Time, i+3, w.Key, w.Value, kafkagoHeaders(w.Headers), w.Time)
		}
	}
	empty, err := kafka.DialLeader(ctx, "tcp", bs, topic, 1)
	if err != nil {
		return "", fmt.Errorf("dial leader of partition 1: %w", err)
	}
	_ = empty.SetDeadline(time.Now().Add(20 * time.Second))
	first, last, err = empty.ReadOffsets()
	empty.Close()
	if err != nil || first != 0 || last != 0 {
		return "", fmt.Errorf("partition 1 read offsets: %v, %d/%d; expected 0/0", err, first, last)
	}
	if err := cc.DeleteTopics(topic); err != nil {
		return "", fmt.Errorf("delete topics: %w", err)
	}
	// ReadPartitions(topic) would auto-create the topic again (kafka-go sends Metadata v6 with
	// allow_auto_topic_creation=true): the topic must be gone from the list of all partitions
	if err := waitFor(ctx, 30*time.Second, topic+" gone from ReadPartitions()", func() (bool, string) {
		ps, err := conn.ReadPartitions()
		if err != nil {
			return false, err.Error()
		}
		for _, p := range ps {
			if p.Topic == topic {
				return false, fmt.Sprintf("partition %d still listed", p.ID)
			}
		}
		return true, ""
	}); err != nil {
		return "", err
	}
	return fmt.Sprintf("controller %d at %s:%d", ctrl.ID, ctrl.Host, ctrl.Port), nil
}
