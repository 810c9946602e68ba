package main

// franz-go (github.com/twmb/franz-go/pkg/kgo) scenarios: keyed produce/consume, the idempotent
// producer, a two-member consumer group, and a transactional consume-transform-produce loop.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// requestCounter is a kgo hook counting the requests written, by API key.
type requestCounter struct {
	mu sync.Mutex
	n  map[int16]int
}

func (c *requestCounter) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if err == nil {
		c.mu.Lock()
		c.n[key]++
		c.mu.Unlock()
	}
}

func (c *requestCounter) count(key int16) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[key]
}

// kgoCreateTopic creates topic with the partitions and replication factor 1 and waits until the
// client's metadata shows every partition with a leader.
func kgoCreateTopic(ctx context.Context, adm *kadm.Client, topic string, partitions int32, configs map[string]*string) error {
	resp, err := adm.CreateTopic(ctx, partitions, 1, configs, topic)
	if err = firstErr(err, resp.Err); err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	return waitFor(ctx, 30*time.Second, "topic "+topic+" in metadata", func() (bool, string) {
		td, err := adm.ListTopics(ctx, topic)
		if err != nil {
			return false, err.Error()
		}
		d := td[topic]
		if d.Err != nil || len(d.Partitions) != int(partitions) {
			return false, fmt.Sprintf("err %v, %d partitions", d.Err, len(d.Partitions))
		}
		for _, p := range d.Partitions {
			if p.Leader < 0 || p.Err != nil {
				return false, fmt.Sprintf("partition %d leader %d err %v", p.Partition, p.Leader, p.Err)
			}
		}
		return true, ""
	})
}

// pollExactly polls cl until want records arrived, then keeps polling for grace to catch any
// extra (duplicate or unexpected) record. Fetch errors fail it.
func pollExactly(ctx context.Context, cl *kgo.Client, want int, limit, grace time.Duration) ([]*kgo.Record, error) {
	var got []*kgo.Record
	deadline := time.Now().Add(limit)
	var graceEnd time.Time
	for {
		now := time.Now()
		if len(got) >= want && graceEnd.IsZero() {
			graceEnd = now.Add(grace)
		}
		end := deadline
		if !graceEnd.IsZero() {
			end = graceEnd
		}
		if !now.Before(end) {
			break
		}
		pctx, cancel := context.WithDeadline(ctx, end)
		fs := cl.PollFetches(pctx)
		cancel()
		for _, fe := range fs.Errors() {
			if errors.Is(fe.Err, context.DeadlineExceeded) || errors.Is(fe.Err, context.Canceled) {
				continue
			}
			return got, fmt.Errorf("fetch %s[%d]: %w", fe.Topic, fe.Partition, fe.Err)
		}
		got = append(got, fs.Records()...)
		if ctx.Err() != nil {
			return got, ctx.Err()
		}
	}
	if len(got) != want {
		return got, fmt.Errorf("read %d records, expected exactly %d", len(got), want)
	}
	return got, nil
}

func headersEqual(a, b []kgo.RecordHeader) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || !bytes.Equal(a[i].Value, b[i].Value) {
			return false
		}
	}
	return true
}

func describeRecord(r *kgo.Record) string {
	return fmt.Sprintf("%s[%d]@%d key=%q value=%q headers=%v ts=%d", r.Topic, r.Partition, r.Offset,
		r.Key, r.Value, r.Headers, r.Timestamp.UnixMilli())
}

// sameRecord compares what a consumer read with what a producer wrote (and the broker acked):
// partition, offset, key, value (null stays null), headers in order, timestamp to the millisecond.
func sameRecord(want, got *kgo.Record) error {
	if want.Partition != got.Partition || want.Offset != got.Offset ||
		!bytes.Equal(want.Key, got.Key) || !bytes.Equal(want.Value, got.Value) ||
		(want.Value == nil) != (got.Value == nil) || !headersEqual(want.Headers, got.Headers) ||
		want.Timestamp.UnixMilli() != got.Timestamp.UnixMilli() {
		return fmt.Errorf("record differs: wrote %s, read %s", describeRecord(want), describeRecord(got))
	}
	return nil
}

// kgo-produce-consume: 300 keyed records (30 keys, 3 headers each, every 50th value null, lz4
// batches) to a 3-partition topic through the default sticky key partitioner; acked offsets dense
// per partition, one partition per key, every partition used; a direct partition consumer reads
// every record back exactly (partition, offset, key, value, headers in order, timestamp,
// CreateTime, lz4 kept).
func kgoProduceConsume(ctx context.Context, bs string) (string, error) {
	topic := unique("go-kgo-pc")
	prod, err := kgo.NewClient(kgoOpts(bs, kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(kgo.Lz4Compression()), kgo.ProducerLinger(5*time.Millisecond))...)
	if err != nil {
		return "", err
	}
	defer prod.Close()
	if err := kgoCreateTopic(ctx, kadm.NewClient(prod), topic, 3, nil); err != nil {
		return "", err
	}
	const n = 300
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{
			Topic: topic,
			Key:   []byte(fmt.Sprintf("key-%02d", i%30)),
			Value: []byte(fmt.Sprintf("value-%04d-%s", i, strings.Repeat("x", i%17))),
			Headers: []kgo.RecordHeader{
				{Key: "index", Value: []byte(strconv.Itoa(i))},
				{Key: "empty", Value: []byte{}},
				{Key: "index", Value: []byte("repeated key")},
			},
			Timestamp: base.Add(time.Duration(i) * time.Millisecond),
		}
		if i%50 == 49 {
			recs[i].Value = nil
		}
	}
	if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return "", fmt.Errorf("produce: %w", err)
	}
	byPart := map[int32][]int64{}
	keyPart := map[string]int32{}
	for _, r := range recs {
		byPart[r.Partition] = append(byPart[r.Partition], r.Offset)
		if p, ok := keyPart[string(r.Key)]; ok && p != r.Partition {
			return "", fmt.Errorf("key %s went to partitions %d and %d", r.Key, p, r.Partition)
		}
		keyPart[string(r.Key)] = r.Partition
	}
	if len(byPart) != 3 {
		return "", fmt.Errorf("30 keys landed on partitions %v, expected all 3", sortedKeys(byPart))
	}
	for p, offs := range byPart {
		if err := dense(offs, 0); err != nil {
			return "", fmt.Errorf("partition %d acks: %w", p, err)
		}
	}

	cons, err := kgo.NewClient(kgoOpts(bs, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		topic: {0: kgo.NewOffset().AtStart(), 1: kgo.NewOffset().AtStart(), 2: kgo.NewOffset().AtStart()},
	}))...)
	if err != nil {
		return "", err
	}
	defer cons.Close()
	got, err := pollExactly(ctx, cons, n, 30*time.Second, time.Second)
	if err != nil {
		return "", err
	}
	want := map[[2]int64]*kgo.Record{}
	for _, r := range recs {
		want[[2]int64{int64(r.Partition), r.Offset}] = r
	}
	for _, g := range got {
		w, ok := want[[2]int64{int64(g.Partition), g.Offset}]
		if !ok {
			return "", fmt.Errorf("read a record nobody wrote or read twice: %s", describeRecord(g))
		}
		delete(want, [2]int64{int64(g.Partition), g.Offset})
		if err := sameRecord(w, g); err != nil {
			return "", err
		}
		if g.Attrs.TimestampType() != 0 {
			return "", fmt.Errorf("%s: timestamp type %d, expected 0 (CreateTime)", describeRecord(g), g.Attrs.TimestampType())
		}
		if g.Attrs.CompressionType() != 3 {
			return "", fmt.Errorf("%s: batch compression %d, expected 3 (lz4, as produced)", describeRecord(g), g.Attrs.CompressionType())
		}
	}
	return fmt.Sprintf("%d records, partitions %d/%d/%d", n, len(byPart[0]), len(byPart[1]), len(byPart[2])), nil
}

// kgo-idempotent: 2000 records produced asynchronously to 2 partitions by an idempotent producer
// (acks=all, up to 5 requests in flight, 1 KiB zstd batches, so many batches per partition in
// flight); every ack carries one producer id and epoch; per partition the offsets follow the
// production order exactly (record i at offset i/2); DescribeProducers shows that producer with
// last sequence 999 on each partition; a consumer reads the 2000 back in order with the producer id.
func kgoIdempotent(ctx context.Context, bs string) (string, error) {
	topic := unique("go-kgo-idem")
	// with idempotence kgo keeps up to 5 produce requests in flight per broker by itself
	prod, err := kgo.NewClient(kgoOpts(bs, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerBatchMaxBytes(1024),
		kgo.ProducerBatchCompression(kgo.ZstdCompression()), kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		return "", err
	}
	defer prod.Close()
	adm := kadm.NewClient(prod)
	if err := kgoCreateTopic(ctx, adm, topic, 2, nil); err != nil {
		return "", err
	}
	const n = 2000
	recs := make([]*kgo.Record, n)
	var mu sync.Mutex
	var produceErrs []error
	var wg sync.WaitGroup
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Partition: int32(i % 2), Key: []byte(fmt.Sprintf("k%d", i)),
			Value: []byte(fmt.Sprintf("idempotent-%05d-%s", i, strings.Repeat("y", 40)))}
		wg.Add(1)
		prod.Produce(ctx, recs[i], func(r *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				mu.Lock()
				produceErrs = append(produceErrs, fmt.Errorf("record %s: %w", r.Value, err))
				mu.Unlock()
			}
		})
	}
	if err := prod.Flush(ctx); err != nil {
		return "", fmt.Errorf("flush: %w", err)
	}
	wg.Wait()
	if len(produceErrs) > 0 {
		return "", fmt.Errorf("%d produce errors, first: %w", len(produceErrs), produceErrs[0])
	}
	pid, epoch := recs[0].ProducerID, recs[0].ProducerEpoch
	if pid < 0 {
		return "", fmt.Errorf("acked record has producer id %d: the producer is not idempotent", pid)
	}
	for i, r := range recs {
		if r.ProducerID != pid || r.ProducerEpoch != epoch {
			return "", fmt.Errorf("record %d acked with producer %d/%d, record 0 with %d/%d", i, r.ProducerID, r.ProducerEpoch, pid, epoch)
		}
		if r.Offset != int64(i/2) {
			return "", fmt.Errorf("record %d (partition %d) acked at offset %d, expected %d (production order)", i, r.Partition, r.Offset, i/2)
		}
	}

	dp, err := adm.DescribeProducers(ctx, kadm.TopicsSet{topic: {0: {}, 1: {}}})
	if err != nil {
		return "", fmt.Errorf("describe producers: %w", err)
	}
	for _, p := range []int32{0, 1} {
		part := dp[topic].Partitions[p]
		if part.Err != nil {
			return "", fmt.Errorf("describe producers partition %d: %w", p, part.Err)
		}
		d, ok := part.ActiveProducers[pid]
		if !ok {
			return "", fmt.Errorf("describe producers partition %d: producer %d not listed (%v)", p, pid, part.ActiveProducers)
		}
		if d.LastSequence != n/2-1 || d.ProducerEpoch != epoch || d.CurrentTxnStartOffset != -1 {
			return "", fmt.Errorf("describe producers partition %d: last sequence %d epoch %d txn start %d, expected %d, %d, -1",
				p, d.LastSequence, d.ProducerEpoch, d.CurrentTxnStartOffset, n/2-1, epoch)
		}
	}

	cons, err := kgo.NewClient(kgoOpts(bs, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		topic: {0: kgo.NewOffset().AtStart(), 1: kgo.NewOffset().AtStart()},
	}))...)
	if err != nil {
		return "", err
	}
	defer cons.Close()
	got, err := pollExactly(ctx, cons, n, 30*time.Second, time.Second)
	if err != nil {
		return "", err
	}
	next := map[int32]int64{}
	for _, g := range got {
		if g.Offset != next[g.Partition] {
			return "", fmt.Errorf("partition %d: read offset %d, expected %d next", g.Partition, g.Offset, next[g.Partition])
		}
		next[g.Partition]++
		i := int(g.Offset)*2 + int(g.Partition)
		if !bytes.Equal(g.Value, recs[i].Value) || g.ProducerID != pid || g.Attrs.CompressionType() != 4 {
			return "", fmt.Errorf("read %s producer %d compression %d, expected value %q producer %d zstd",
				describeRecord(g), g.ProducerID, g.Attrs.CompressionType(), recs[i].Value, pid)
		}
	}
	return fmt.Sprintf("producer id %d epoch %d, %d records", pid, epoch, n), nil
}

// groupMember is a franz-go group consumer polled in a goroutine; it records its assignment
// (from the rebalance callbacks) and every record it polls.
type groupMember struct {
	name     string
	cl       *kgo.Client
	mu       sync.Mutex
	assigned map[int32]bool
	records  []*kgo.Record
	pollErr  error
	cancel   context.CancelFunc
	done     chan struct{}
	closed   sync.Once
}

// close stops polling and closes the client (LeaveGroup); safe to call more than once.
func (m *groupMember) close() {
	m.closed.Do(func() {
		m.stopPolling()
		m.cl.Close()
	})
}

func startGroupMember(ctx context.Context, bs, name, group, topic string, extra ...kgo.Opt) (*groupMember, error) {
	m := &groupMember{name: name, assigned: map[int32]bool{}, done: make(chan struct{})}
	drop := func(_ context.Context, _ *kgo.Client, ps map[string][]int32) {
		m.mu.Lock()
		defer m.mu.Unlock()
		for _, p := range ps[topic] {
			delete(m.assigned, p)
		}
	}
	opts := kgoOpts(bs, append([]kgo.Opt{
		kgo.ClientID(name), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.HeartbeatInterval(500 * time.Millisecond),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, ps map[string][]int32) {
			m.mu.Lock()
			defer m.mu.Unlock()
			for _, p := range ps[topic] {
				m.assigned[p] = true
			}
		}),
		kgo.OnPartitionsRevoked(drop), kgo.OnPartitionsLost(drop),
	}, extra...)...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	m.cl = cl
	pctx, cancel := context.WithCancel(ctx)
	m.cancel = cancel
	go func() {
		defer close(m.done)
		for pctx.Err() == nil {
			fs := cl.PollFetches(pctx)
			if fs.IsClientClosed() {
				return
			}
			m.mu.Lock()
			for _, fe := range fs.Errors() {
				if !errors.Is(fe.Err, context.Canceled) && !errors.Is(fe.Err, context.DeadlineExceeded) && m.pollErr == nil {
					m.pollErr = fmt.Errorf("%s: fetch %s[%d]: %w", name, fe.Topic, fe.Partition, fe.Err)
				}
			}
			m.records = append(m.records, fs.Records()...)
			m.mu.Unlock()
		}
	}()
	return m, nil
}

// stopPolling ends the poll loop (the client stays in the group).
func (m *groupMember) stopPolling() {
	m.cancel()
	<-m.done
}

func (m *groupMember) snapshot() (map[int32]bool, int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := map[int32]bool{}
	for p := range m.assigned {
		a[p] = true
	}
	return a, len(m.records), m.pollErr
}

func partitionsOf(set map[int32]bool) []int32 {
	return sortedKeys(set)
}

// checkGroupRead checks that the members read exactly want records: each (partition, offset) of
// the map once, with its value, and each by the member that owns the partition.
func checkGroupRead(members []*groupMember, want map[[2]int64]string) error {
	seen := map[[2]int64]string{}
	total := 0
	for _, m := range members {
		m.mu.Lock()
		recs := append([]*kgo.Record(nil), m.records...)
		owned := map[int32]bool{}
		for p := range m.assigned {
			owned[p] = true
		}
		m.mu.Unlock()
		for _, r := range recs {
			total++
			k := [2]int64{int64(r.Partition), r.Offset}
			v, ok := want[k]
			if !ok {
				return fmt.Errorf("%s read an unexpected record %s", m.name, describeRecord(r))
			}
			if other, dup := seen[k]; dup {
				return fmt.Errorf("record %s read twice (by %s and %s)", describeRecord(r), other, m.name)
			}
			seen[k] = m.name
			if string(r.Value) != v {
				return fmt.Errorf("%s read %s, expected value %q", m.name, describeRecord(r), v)
			}
			if !owned[r.Partition] {
				return fmt.Errorf("%s read %s from a partition it does not own (owns %v)", m.name, describeRecord(r), partitionsOf(owned))
			}
		}
	}
	if total != len(want) {
		return fmt.Errorf("members read %d records, expected %d", total, len(want))
	}
	return nil
}

func produceEach(ctx context.Context, cl *kgo.Client, topic string, partitions int32, from, count int, tag string, want map[[2]int64]string) error {
	var recs []*kgo.Record
	for p := int32(0); p < partitions; p++ {
		for i := from; i < from+count; i++ {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: []byte(fmt.Sprintf("%s-p%d-%d", tag, p, i))})
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	for _, r := range recs {
		if want != nil {
			want[[2]int64{int64(r.Partition), r.Offset}] = string(r.Value)
		}
	}
	return nil
}

// kgoGroupOffsets fetches the group's committed offsets of topic as partition -> offset.
func kgoGroupOffsets(ctx context.Context, adm *kadm.Client, group, topic string) (map[int32]int64, error) {
	os, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return nil, fmt.Errorf("fetch offsets of %s: %w", group, err)
	}
	if err := os.Error(); err != nil {
		return nil, fmt.Errorf("fetch offsets of %s: %w", group, err)
	}
	out := map[int32]int64{}
	for p, o := range os[topic] {
		out[p] = o.At
	}
	return out, nil
}

// kgo-group: a 4-partition topic and two kgo members of one group (cooperative-sticky): a disjoint
// 2+2 split, reached before any record exists; 10 records per partition then read exactly once in
// total, each by its partition's owner; both commit, the group's offsets are 10 on every partition;
// both leave; 5 more records per partition; a third member reads exactly those 20 (offsets 10..14),
// nothing before them, and its commit leaves 15 everywhere.
func kgoGroup(ctx context.Context, bs string) (string, error) {
	topic, group := unique("go-kgo-group"), unique("go-kgo-g")
	prod, err := kgo.NewClient(kgoOpts(bs, kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		return "", err
	}
	defer prod.Close()
	adm := kadm.NewClient(prod)
	if err := kgoCreateTopic(ctx, adm, topic, 4, nil); err != nil {
		return "", err
	}
	a, err := startGroupMember(ctx, bs, "go-kgo-member-a", group, topic)
	if err != nil {
		return "", err
	}
	defer a.close()
	if err := waitFor(ctx, 20*time.Second, "member a owns all 4 partitions", func() (bool, string) {
		as, _, perr := a.snapshot()
		return len(as) == 4 && perr == nil, fmt.Sprintf("a %v err %v", partitionsOf(as), perr)
	}); err != nil {
		return "", err
	}
	b, err := startGroupMember(ctx, bs, "go-kgo-member-b", group, topic)
	if err != nil {
		return "", err
	}
	defer b.close()
	split := func() (bool, string) {
		as, _, aerr := a.snapshot()
		bset, _, berr := b.snapshot()
		why := fmt.Sprintf("a %v b %v errs %v %v", partitionsOf(as), partitionsOf(bset), aerr, berr)
		if aerr != nil || berr != nil || len(as) != 2 || len(bset) != 2 {
			return false, why
		}
		for p := range as {
			if bset[p] {
				return false, why
			}
		}
		return true, why
	}
	if err := waitFor(ctx, 30*time.Second, "a 2+2 split", split); err != nil {
		return "", err
	}
	_, splitDesc := split()
	want := map[[2]int64]string{}
	if err := produceEach(ctx, prod, topic, 4, 0, 10, "group", want); err != nil {
		return "", err
	}
	if err := waitFor(ctx, 30*time.Second, "40 records read by the members", func() (bool, string) {
		_, na, aerr := a.snapshot()
		_, nb, berr := b.snapshot()
		return na+nb >= 40 || aerr != nil || berr != nil, fmt.Sprintf("a %d b %d", na, nb)
	}); err != nil {
		return "", err
	}
	time.Sleep(time.Second) // anything read twice or past the end shows up now
	a.stopPolling()
	b.stopPolling()
	for _, m := range []*groupMember{a, b} {
		if _, _, perr := m.snapshot(); perr != nil {
			return "", perr
		}
	}
	if ok, why := split(); !ok {
		return "", fmt.Errorf("the split changed while reading: %s", why)
	}
	if err := checkGroupRead([]*groupMember{a, b}, want); err != nil {
		return "", err
	}
	for _, m := range []*groupMember{a, b} {
		if err := m.cl.CommitUncommittedOffsets(ctx); err != nil {
			return "", fmt.Errorf("%s commit: %w", m.name, err)
		}
	}
	committed, err := kgoGroupOffsets(ctx, adm, group, topic)
	if err != nil {
		return "", err
	}
	if err := expectEq("committed offsets after the first 40", map[int32]int64{0: 10, 1: 10, 2: 10, 3: 10}, committed); err != nil {
		return "", err
	}
	a.close() // LeaveGroup
	b.close()

	want = map[[2]int64]string{}
	if err := produceEach(ctx, prod, topic, 4, 10, 5, "resume", want); err != nil {
		return "", err
	}
	c, err := startGroupMember(ctx, bs, "go-kgo-member-c", group, topic)
	if err != nil {
		return "", err
	}
	defer c.close()
	if err := waitFor(ctx, 30*time.Second, "20 records read by the resuming member", func() (bool, string) {
		as, n, perr := c.snapshot()
		return (n >= 20 && len(as) == 4) || perr != nil, fmt.Sprintf("c %v read %d", partitionsOf(as), n)
	}); err != nil {
		return "", err
	}
	time.Sleep(time.Second)
	c.stopPolling()
	if _, _, perr := c.snapshot(); perr != nil {
		return "", perr
	}
	if err := checkGroupRead([]*groupMember{c}, want); err != nil {
		return "", fmt.Errorf("resume: %w", err)
	}
	if err := c.cl.CommitUncommittedOffsets(ctx); err != nil {
		return "", fmt.Errorf("member c commit: %w", err)
	}
	committed, err = kgoGroupOffsets(ctx, adm, group, topic)
	if err != nil {
		return "", err
	}
	if err := expectEq("committed offsets after the resume", map[int32]int64{0: 15, 1: 15, 2: 15, 3: 15}, committed); err != nil {
		return "", err
	}
	return "split " + splitDesc, nil
}

// kgo-txn-ctp: consume-transform-produce through a GroupTransactSession (group + transactional
// id, read_committed, offsets committed in the transaction). Input: 2 partitions, 10 records each.
// Round 1 transforms all 20 and commits (End reports committed; group offsets 10/10). 5 more input
// records per partition; round 2 transforms them and aborts (offsets stay 10/10); round 3 polls the
// same 10 again (the session rewound to the committed offsets) and commits (offsets 15/15). A
// read_committed reader of the output gets exactly rounds 1 and 3 (30 records, per partition in
// input order), a read_uncommitted one also the 10 of round 2; end offsets and last stable offsets
// are 23 per partition (20 records + 3 markers). The session never sent AddPartitionsToTxn or
// AddOffsetsToTxn: with transaction.version 2 finalized, kgo uses the KIP-890 path throughout.
func kgoTxnConsumeTransformProduce(ctx context.Context, bs string) (string, error) {
	in, out, group, txid := unique("go-kgo-ctp-in"), unique("go-kgo-ctp-out"), unique("go-kgo-ctp-g"), unique("go-kgo-ctp-tx")
	prod, err := kgo.NewClient(kgoOpts(bs, kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		return "", err
	}
	defer prod.Close()
	adm := kadm.NewClient(prod)
	for _, t := range []string{in, out} {
		if err := kgoCreateTopic(ctx, adm, t, 2, nil); err != nil {
			return "", err
		}
	}
	if err := produceEach(ctx, prod, in, 2, 0, 10, "in", nil); err != nil {
		return "", err
	}
	writes := &requestCounter{n: map[int16]int{}}
	sess, err := kgo.NewGroupTransactSession(kgoOpts(bs, kgo.WithHooks(writes),
		kgo.ClientID("go-kgo-ctp"), kgo.TransactionalID(txid), kgo.TransactionTimeout(30*time.Second),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(in), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.HeartbeatInterval(500*time.Millisecond),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.AllISRAcks()))...)
	if err != nil {
		return "", err
	}
	defer sess.Close()

	// round polls exactly want input records, produces one output record for each (same
	// partition, value "<tag>:<input value>") and ends the transaction.
	round := func(tag string, want int, commit kgo.TransactionEndTry) (bool, []string, error) {
		if err := sess.Begin(); err != nil {
			return false, nil, fmt.Errorf("%s: begin: %w", tag, err)
		}
		var polled []*kgo.Record
		deadline := time.Now().Add(30 * time.Second)
		for len(polled) < want && time.Now().Before(deadline) {
			pctx, cancel := context.WithDeadline(ctx, deadline)
			fs := sess.PollFetches(pctx)
			cancel()
			for _, fe := range fs.Errors() {
				if !errors.Is(fe.Err, context.DeadlineExceeded) && !errors.Is(fe.Err, context.Canceled) {
					return false, nil, fmt.Errorf("%s: fetch %s[%d]: %w", tag, fe.Topic, fe.Partition, fe.Err)
				}
			}
			polled = append(polled, fs.Records()...)
		}
		if len(polled) != want {
			return false, nil, fmt.Errorf("%s: polled %d input records, expected %d", tag, len(polled), want)
		}
		var keys []string
		var outs []*kgo.Record
		for _, r := range polled {
			keys = append(keys, fmt.Sprintf("%d@%d", r.Partition, r.Offset))
			outs = append(outs, &kgo.Record{Topic: out, Partition: r.Partition, Key: r.Value,
				Value: []byte(tag + ":" + string(r.Value))})
		}
		if err := sess.ProduceSync(ctx, outs...).FirstErr(); err != nil {
			return false, nil, fmt.Errorf("%s: produce: %w", tag, err)
		}
		committed, err := sess.End(ctx, commit)
		if err != nil {
			return committed, keys, fmt.Errorf("%s: end (commit=%v): %w", tag, bool(commit), err)
		}
		sort.Strings(keys)
		return committed, keys, nil
	}
	// The offsets of a committed transaction become visible once its markers are written, which
	// Kafka does after answering EndTxn: wait (bounded) until the offsets are the expected ones.
	offsetsAre := func(what string, want map[int32]int64) error {
		var got map[int32]int64
		err := waitFor(ctx, 10*time.Second, what, func() (bool, string) {
			var err error
			if got, err = kgoGroupOffsets(ctx, adm, group, in); err != nil {
				return false, err.Error()
			}
			return expectEq(what, want, got) == nil, fmt.Sprint(got)
		})
		if err != nil {
			return expectEq(what, want, got)
		}
		return nil
	}

	committed, _, err := round("r1", 20, kgo.TryCommit)
	if err != nil {
		return "", err
	}
	if !committed {
		return "", fmt.Errorf("r1: End(TryCommit) reported the transaction not committed (the session aborted it; see the client log with COMPAT_DEBUG=1)")
	}
	if err := offsetsAre("group offsets after the committed round 1", map[int32]int64{0: 10, 1: 10}); err != nil {
		return "", err
	}
	if err := produceEach(ctx, prod, in, 2, 10, 5, "in", nil); err != nil {
		return "", err
	}
	committed, abortedKeys, err := round("r2", 10, kgo.TryAbort)
	if err != nil {
		return "", err
	}
	if committed {
		return "", fmt.Errorf("r2: End(TryAbort) reported committed")
	}
	if err := offsetsAre("group offsets after the aborted round 2", map[int32]int64{0: 10, 1: 10}); err != nil {
		return "", err
	}
	committed, redoneKeys, err := round("r3", 10, kgo.TryCommit)
	if err != nil {
		return "", err
	}
	if !committed {
		return "", fmt.Errorf("r3: End(TryCommit) after an aborted round reported the transaction not committed (the session aborted it; COMPAT_DEBUG=1 shows why)")
	}
	if err := expectEq("round 3 input records (the aborted round's, again)", abortedKeys, redoneKeys); err != nil {
		return "", err
	}
	if err := offsetsAre("group offsets after the committed round 3", map[int32]int64{0: 15, 1: 15}); err != nil {
		return "", err
	}
	sess.Close()
	// Both brokers finalize transaction.version 2 in ApiVersions, so kgo takes the KIP-890 path
	// from the first transaction on: partitions enrolled by Produce v12+, the offsets partition
	// by TxnOffsetCommit v5+, never an AddPartitionsToTxn or AddOffsetsToTxn request.
	if n24, n25 := writes.count(24), writes.count(25); n24 != 0 || n25 != 0 {
		return "", fmt.Errorf("the session sent %d AddPartitionsToTxn and %d AddOffsetsToTxn requests, expected none: kgo took the pre-KIP-890 path, which it does when no ApiVersions answer it parsed shows transaction.version 2 finalized", n24, n25)
	}

	// the output, both ways
	wantCommitted := map[int32][]string{}
	wantAll := map[int32][]string{}
	for p := 0; p < 2; p++ {
		for i := 0; i < 10; i++ {
			wantCommitted[int32(p)] = append(wantCommitted[int32(p)], fmt.Sprintf("r1:in-p%d-%d", p, i))
		}
		wantAll[int32(p)] = append([]string(nil), wantCommitted[int32(p)]...)
		for i := 10; i < 15; i++ {
			wantAll[int32(p)] = append(wantAll[int32(p)], fmt.Sprintf("r2:in-p%d-%d", p, i))
		}
		for i := 10; i < 15; i++ {
			v := fmt.Sprintf("r3:in-p%d-%d", p, i)
			wantCommitted[int32(p)] = append(wantCommitted[int32(p)], v)
			wantAll[int32(p)] = append(wantAll[int32(p)], v)
		}
	}
	for _, level := range []struct {
		name string
		iso  kgo.IsolationLevel
		want map[int32][]string
	}{{"read_committed", kgo.ReadCommitted(), wantCommitted}, {"read_uncommitted", kgo.ReadUncommitted(), wantAll}} {
		cons, err := kgo.NewClient(kgoOpts(bs, kgo.FetchIsolationLevel(level.iso), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
			out: {0: kgo.NewOffset().AtStart(), 1: kgo.NewOffset().AtStart()},
		}))...)
		if err != nil {
			return "", err
		}
		got, err := pollExactly(ctx, cons, len(level.want[0])*2, 30*time.Second, time.Second)
		cons.Close()
		if err != nil {
			return "", fmt.Errorf("%s output: %w", level.name, err)
		}
		gotBy := map[int32][]string{}
		for _, r := range got {
			gotBy[r.Partition] = append(gotBy[r.Partition], string(r.Value))
		}
		if err := expectEq(level.name+" output", level.want, gotBy); err != nil {
			return "", err
		}
	}
	ends, err := adm.ListEndOffsets(ctx, out)
	if err != nil {
		return "", err
	}
	lso, err := adm.ListCommittedOffsets(ctx, out)
	if err != nil {
		return "", err
	}
	for _, p := range []int32{0, 1} {
		e, _ := ends.Lookup(out, p)
		l, _ := lso.Lookup(out, p)
		if e.Err != nil || l.Err != nil || e.Offset != 23 || l.Offset != 23 {
			return "", fmt.Errorf("output partition %d: end offset %d (%v), last stable offset %d (%v); expected 23 and 23 (20 records + 3 markers)",
				p, e.Offset, e.Err, l.Offset, l.Err)
		}
	}
	return "3 rounds (commit, abort, commit), 30 committed output records", nil
}
