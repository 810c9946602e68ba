package main

// IBM sarama (github.com/IBM/sarama) scenarios: the idempotent SyncProducer, a two-member
// ConsumerGroup resuming from committed offsets, and the ClusterAdmin.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/IBM/sarama"
)

// saramaConfig: protocol versions of Kafka 4.0 (sarama picks each request's version from it).
func saramaConfig(clientID string) *sarama.Config {
	c := sarama.NewConfig()
	c.Version = sarama.V4_0_0_0
	c.ClientID = clientID
	c.Metadata.Retry.Max = 10
	c.Metadata.Retry.Backoff = 200 * time.Millisecond
	c.Net.DialTimeout = 10 * time.Second
	c.Net.ReadTimeout = 20 * time.Second
	return c
}

func saramaCreateTopic(ctx context.Context, adm sarama.ClusterAdmin, topic string, partitions int32, configs map[string]*string) error {
	if err := adm.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: 1, ConfigEntries: configs}, false); err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	return waitFor(ctx, 30*time.Second, "topic "+topic+" described with leaders", func() (bool, string) {
		md, err := adm.DescribeTopics([]string{topic})
		if err != nil {
			return false, err.Error()
		}
		if len(md) != 1 || md[0].Err != sarama.ErrNoError || len(md[0].Partitions) != int(partitions) {
			return false, fmt.Sprintf("%+v", md)
		}
		for _, p := range md[0].Partitions {
			if p.Leader < 0 || p.Err != sarama.ErrNoError {
				return false, fmt.Sprintf("partition %d leader %d err %v", p.ID, p.Leader, p.Err)
			}
		}
		return true, ""
	})
}

func saramaHeaders(hs []*sarama.RecordHeader) string {
	var b bytes.Buffer
	for _, h := range hs {
		fmt.Fprintf(&b, "%s=%s;", h.Key, h.Value)
	}
	return b.String()
}

// sarama-producer: an idempotent SyncProducer (acks=WaitForAll, one request in flight, hash
// partitioner) sends 60 keyed records with headers one by one and 90 in one SendMessages to a
// 3-partition topic; each answer's partition is the one sarama's hash partitioner gives the key,
// offsets are dense per partition in send order; partition consumers read all 150 back exactly
// (key, value, headers in order, timestamp, offset).
func saramaProducer(ctx context.Context, bs string) (string, error) {
	topic := unique("go-sarama-prod")
	cfg := saramaConfig("go-sarama-producer")
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Idempotent = true
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Retry.Max = 5
	cfg.Producer.Return.Successes = true
	cfg.Producer.Partitioner = sarama.NewHashPartitioner
	adm, err := sarama.NewClusterAdmin([]string{bs}, cfg)
	if err != nil {
		return "", fmt.Errorf("cluster admin: %w", err)
	}
	defer adm.Close()
	if err := saramaCreateTopic(ctx, adm, topic, 3, nil); err != nil {
		return "", err
	}
	prod, err := sarama.NewSyncProducer([]string{bs}, cfg)
	if err != nil {
		return "", fmt.Errorf("sync producer: %w", err)
	}
	defer prod.Close()
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	const n = 150
	msgs := make([]*sarama.ProducerMessage, n)
	for i := range msgs {
		msgs[i] = &sarama.ProducerMessage{
			Topic: topic,
			Key:   sarama.StringEncoder(fmt.Sprintf("user-%02d", i%25)),
			Value: sarama.StringEncoder(fmt.Sprintf("sarama-value-%03d", i)),
			Headers: []sarama.RecordHeader{
				{Key: []byte("seq"), Value: []byte(fmt.Sprint(i))},
				{Key: []byte("origin"), Value: []byte("sarama")},
			},
			Timestamp: base.Add(time.Duration(i) * time.Millisecond),
		}
	}
	for _, m := range msgs[:60] {
		if _, _, err := prod.SendMessage(m); err != nil {
			return "", fmt.Errorf("send %v: %w", m.Value, err)
		}
	}
	if err := prod.SendMessages(msgs[60:]); err != nil {
		return "", fmt.Errorf("send 90 messages: %w", err)
	}
	hp := sarama.NewHashPartitioner(topic)
	next := map[int32]int64{}
	for i, m := range msgs {
		want, err := hp.Partition(&sarama.ProducerMessage{Key: m.Key}, 3)
		if err != nil {
			return "", err
		}
		if m.Partition != want {
			return "", fmt.Errorf("message %d (key %v) went to partition %d, the hash partitioner says %d", i, m.Key, m.Partition, want)
		}
		if m.Offset != next[m.Partition] {
			return "", fmt.Errorf("message %d on partition %d at offset %d, expected %d (send order)", i, m.Partition, m.Offset, next[m.Partition])
		}
		next[m.Partition]++
	}
	if len(next) != 3 {
		return "", fmt.Errorf("25 keys used only partitions %v", sortedKeys(next))
	}

	cons, err := sarama.NewConsumer([]string{bs}, saramaConfig("go-sarama-consumer"))
	if err != nil {
		return "", fmt.Errorf("consumer: %w", err)
	}
	defer cons.Close()
	want := map[[2]int64]*sarama.ProducerMessage{}
	for _, m := range msgs {
		want[[2]int64{int64(m.Partition), m.Offset}] = m
	}
	for p := int32(0); p < 3; p++ {
		pc, err := cons.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			return "", fmt.Errorf("consume partition %d: %w", p, err)
		}
		for i := int64(0); i < next[p]; i++ {
			select {
			case got := <-pc.Messages():
				w, ok := want[[2]int64{int64(got.Partition), got.Offset}]
				if !ok {
					pc.Close()
					return "", fmt.Errorf("read an unexpected record at %d@%d", got.Partition, got.Offset)
				}
				wk, _ := w.Key.Encode()
				wv, _ := w.Value.Encode()
				var wh bytes.Buffer
				for _, h := range w.Headers {
					fmt.Fprintf(&wh, "%s=%s;", h.Key, h.Value)
				}
				if got.Offset != i || !bytes.Equal(got.Key, wk) || !bytes.Equal(got.Value, wv) ||
					saramaHeaders(got.Headers) != wh.String() || !got.Timestamp.Equal(w.Timestamp) {
					pc.Close()
					return "", fmt.Errorf("partition %d offset %d: read key %q value %q headers %s ts %v, expected offset %d key %q value %q headers %s ts %v",
						p, got.Offset, got.Key, got.Value, saramaHeaders(got.Headers), got.Timestamp, i, wk, wv, wh.String(), w.Timestamp)
				}
			case err := <-pc.Errors():
				pc.Close()
				return "", fmt.Errorf("partition %d: %w", p, err)
			case <-time.After(20 * time.Second):
				pc.Close()
				return "", fmt.Errorf("partition %d: offset %d not read within 20 s", p, i)
			case <-ctx.Done():
				pc.Close()
				return "", ctx.Err()
			}
		}
		if hw := pc.HighWaterMarkOffset(); hw != next[p] {
			pc.Close()
			return "", fmt.Errorf("partition %d: high watermark %d, expected %d", p, hw, next[p])
		}
		pc.Close()
	}
	return fmt.Sprintf("partitions %d/%d/%d", next[0], next[1], next[2]), nil
}

// saramaMember is one sarama ConsumerGroup whose Consume loop runs in a goroutine.
type saramaMember struct {
	name     string
	group    sarama.ConsumerGroup
	topic    string
	mu       sync.Mutex
	assigned []int32
	sess     sarama.ConsumerGroupSession
	records  []*sarama.ConsumerMessage
	err      error
	cancel   context.CancelFunc
	done     chan struct{}
	once     sync.Once
}

func (m *saramaMember) Setup(s sarama.ConsumerGroupSession) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.assigned = append([]int32(nil), s.Claims()[m.topic]...)
	sort.Slice(m.assigned, func(i, j int) bool { return m.assigned[i] < m.assigned[j] })
	m.sess = s
	return nil
}

func (m *saramaMember) Cleanup(s sarama.ConsumerGroupSession) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.assigned = nil
	m.sess = nil
	return nil
}

func (m *saramaMember) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for {
		select {
		case msg, ok := <-c.Messages():
			if !ok {
				return nil
			}
			m.mu.Lock()
			m.records = append(m.records, msg)
			m.mu.Unlock()
			s.MarkMessage(msg, "")
		case <-s.Context().Done():
			return nil
		}
	}
}

func startSaramaMember(ctx context.Context, bs, name, groupID, topic string) (*saramaMember, error) {
	cfg := saramaConfig(name)
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Enable = false
	cfg.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRange()}
	cfg.Consumer.Group.Heartbeat.Interval = 500 * time.Millisecond
	cfg.Consumer.Group.Session.Timeout = 10 * time.Second
	cfg.Consumer.Return.Errors = true
	g, err := sarama.NewConsumerGroup([]string{bs}, groupID, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: consumer group: %w", name, err)
	}
	m := &saramaMember{name: name, group: g, topic: topic, done: make(chan struct{})}
	cctx, cancel := context.WithCancel(ctx)
	m.cancel = cancel
	go func() {
		for err := range g.Errors() {
			m.mu.Lock()
			if m.err == nil {
				m.err = fmt.Errorf("%s: %w", name, err)
			}
			m.mu.Unlock()
		}
	}()
	go func() {
		defer close(m.done)
		for cctx.Err() == nil {
			if err := g.Consume(cctx, []string{topic}, m); err != nil {
				if errors.Is(err, sarama.ErrClosedConsumerGroup) {
					return
				}
				m.mu.Lock()
				if m.err == nil {
					m.err = fmt.Errorf("%s: consume: %w", name, err)
				}
				m.mu.Unlock()
				time.Sleep(200 * time.Millisecond)
			}
		}
	}()
	return m, nil
}

func (m *saramaMember) state() ([]int32, int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]int32(nil), m.assigned...), len(m.records), m.err
}

// commit commits the marked offsets of the current session.
func (m *saramaMember) commit() error {
	m.mu.Lock()
	s := m.sess
	m.mu.Unlock()
	if s == nil {
		return fmt.Errorf("%s: no session to commit in", m.name)
	}
	s.Commit()
	_, _, err := m.state()
	return err
}

func (m *saramaMember) close() error {
	var err error
	m.once.Do(func() {
		m.cancel()
		<-m.done
		err = m.group.Close() // LeaveGroup
	})
	return err
}

// saramaCheckRead: the members read exactly want ((partition, offset) -> value), each record once
// and by the member that owns its partition.
func saramaCheckRead(members []*saramaMember, want map[[2]int64]string) error {
	seen := map[[2]int64]bool{}
	total := 0
	for _, m := range members {
		m.mu.Lock()
		recs := append([]*sarama.ConsumerMessage(nil), m.records...)
		owned := map[int32]bool{}
		for _, p := range m.assigned {
			owned[p] = true
		}
		m.mu.Unlock()
		for _, r := range recs {
			total++
			k := [2]int64{int64(r.Partition), r.Offset}
			v, ok := want[k]
			if !ok || seen[k] || string(r.Value) != v || !owned[r.Partition] {
				return fmt.Errorf("%s read %d@%d value %q: expected %v, read before %v, owns partition %v",
					m.name, r.Partition, r.Offset, r.Value, ok, seen[k], owned[r.Partition])
			}
			seen[k] = true
		}
	}
	if total != len(want) {
		return fmt.Errorf("members read %d records, expected %d", total, len(want))
	}
	return nil
}

func saramaProduceEach(prod sarama.SyncProducer, topic string, partitions int32, from, count int, want map[[2]int64]string) error {
	var msgs []*sarama.ProducerMessage
	for p := int32(0); p < partitions; p++ {
		for i := from; i < from+count; i++ {
			msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Partition: p, Value: sarama.StringEncoder(fmt.Sprintf("sg-p%d-%d", p, i))})
		}
	}
	if err := prod.SendMessages(msgs); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	for _, m := range msgs {
		v, _ := m.Value.Encode()
		want[[2]int64{int64(m.Partition), m.Offset}] = string(v)
	}
	return nil
}

func saramaGroupOffsets(adm sarama.ClusterAdmin, group, topic string, partitions int32) (map[int32]int64, error) {
	var ps []int32
	for p := int32(0); p < partitions; p++ {
		ps = append(ps, p)
	}
	resp, err := adm.ListConsumerGroupOffsets(group, map[string][]int32{topic: ps})
	if err != nil {
		return nil, fmt.Errorf("list consumer group offsets: %w", err)
	}
	out := map[int32]int64{}
	for _, p := range ps {
		b := resp.GetBlock(topic, p)
		if b == nil {
			return nil, fmt.Errorf("list consumer group offsets: no block for partition %d", p)
		}
		if b.Err != sarama.ErrNoError {
			return nil, fmt.Errorf("list consumer group offsets partition %d: %w", p, b.Err)
		}
		out[p] = b.Offset
	}
	return out, nil
}

// sarama-group: two sarama ConsumerGroups (range) on a 4-partition topic: a 2+2 split before any
// record; DescribeConsumerGroups: Stable, range, 2 members; 10 records per partition read exactly
// once in total, each by its owner; both commit (manual commits, auto-commit off), the group's
// offsets are 10 everywhere; both leave; 5 more per partition; a third member reads exactly those
// 20 (offsets 10..14), and after its commit the offsets are 15.
func saramaGroup(ctx context.Context, bs string) (string, error) {
	topic, group := unique("go-sarama-group"), unique("go-sarama-g")
	cfg := saramaConfig("go-sarama-group-producer")
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	adm, err := sarama.NewClusterAdmin([]string{bs}, cfg)
	if err != nil {
		return "", fmt.Errorf("cluster admin: %w", err)
	}
	defer adm.Close()
	if err := saramaCreateTopic(ctx, adm, topic, 4, nil); err != nil {
		return "", err
	}
	prod, err := sarama.NewSyncProducer([]string{bs}, cfg)
	if err != nil {
		return "", fmt.Errorf("sync producer: %w", err)
	}
	defer prod.Close()
	a, err := startSaramaMember(ctx, bs, "go-sarama-member-a", group, topic)
	if err != nil {
		return "", err
	}
	defer a.close()
	if err := waitFor(ctx, 30*time.Second, "member a owns all 4 partitions", func() (bool, string) {
		as, _, aerr := a.state()
		return len(as) == 4 && aerr == nil, fmt.Sprintf("a %v err %v", as, aerr)
	}); err != nil {
		return "", err
	}
	b, err := startSaramaMember(ctx, bs, "go-sarama-member-b", group, topic)
	if err != nil {
		return "", err
	}
	defer b.close()
	split := func() (bool, string) {
		as, _, aerr := a.state()
		bset, _, berr := b.state()
		why := fmt.Sprintf("a %v b %v errs %v %v", as, bset, aerr, berr)
		if aerr != nil || berr != nil || len(as) != 2 || len(bset) != 2 {
			return false, why
		}
		all := append(append([]int32(nil), as...), bset...)
		sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
		return fmt.Sprint(all) == "[0 1 2 3]", why
	}
	if err := waitFor(ctx, 30*time.Second, "a 2+2 split", split); err != nil {
		return "", err
	}
	_, splitDesc := split()
	gd, err := adm.DescribeConsumerGroups([]string{group})
	if err != nil || len(gd) != 1 {
		return "", fmt.Errorf("describe consumer groups: %v (%d answers)", err, len(gd))
	}
	if gd[0].Err != sarama.ErrNoError || gd[0].State != "Stable" || gd[0].ProtocolType != "consumer" || gd[0].Protocol != "range" || len(gd[0].Members) != 2 {
		return "", fmt.Errorf("describe consumer groups: err %v state %q protocol type %q protocol %q %d members; expected Stable consumer range 2",
			gd[0].Err, gd[0].State, gd[0].ProtocolType, gd[0].Protocol, len(gd[0].Members))
	}
	want := map[[2]int64]string{}
	if err := saramaProduceEach(prod, topic, 4, 0, 10, want); err != nil {
		return "", err
	}
	if err := waitFor(ctx, 30*time.Second, "40 records read by the members", func() (bool, string) {
		_, na, aerr := a.state()
		_, nb, berr := b.state()
		return na+nb >= 40 || aerr != nil || berr != nil, fmt.Sprintf("a %d b %d errs %v %v", na, nb, aerr, berr)
	}); err != nil {
		return "", err
	}
	time.Sleep(time.Second)
	if ok, why := split(); !ok {
		return "", fmt.Errorf("the split changed while reading: %s", why)
	}
	if err := saramaCheckRead([]*saramaMember{a, b}, want); err != nil {
		return "", err
	}
	for _, m := range []*saramaMember{a, b} {
		if err := m.commit(); err != nil {
			return "", err
		}
	}
	offs, err := saramaGroupOffsets(adm, group, topic, 4)
	if err != nil {
		return "", err
	}
	if err := expectEq("committed offsets after the first 40", map[int32]int64{0: 10, 1: 10, 2: 10, 3: 10}, offs); err != nil {
		return "", err
	}
	if err := firstErr(a.close(), b.close()); err != nil {
		return "", fmt.Errorf("close: %w", err)
	}
	want = map[[2]int64]string{}
	if err := saramaProduceEach(prod, topic, 4, 10, 5, want); err != nil {
		return "", err
	}
	c, err := startSaramaMember(ctx, bs, "go-sarama-member-c", group, topic)
	if err != nil {
		return "", err
	}
	defer c.close()
	if err := waitFor(ctx, 30*time.Second, "20 records read by the resuming member", func() (bool, string) {
		cs, n, cerr := c.state()
		return (n >= 20 && len(cs) == 4) || cerr != nil, fmt.Sprintf("c %v read %d err %v", cs, n, cerr)
	}); err != nil {
		return "", err
	}
	time.Sleep(time.Second)
	if err := saramaCheckRead([]*saramaMember{c}, want); err != nil {
		return "", fmt.Errorf("resume: %w", err)
	}
	if err := c.commit(); err != nil {
		return "", err
	}
	if offs, err = saramaGroupOffsets(adm, group, topic, 4); err != nil {
		return "", err
	}
	if err := expectEq("committed offsets after the resume", map[int32]int64{0: 15, 1: 15, 2: 15, 3: 15}, offs); err != nil {
		return "", err
	}
	if err := c.close(); err != nil {
		return "", fmt.Errorf("close c: %w", err)
	}
	return "split " + splitDesc, nil
}

// sarama-admin: ClusterAdmin CreateTopic (3 partitions, retention.ms, cleanup.policy compact);
// again -> ErrTopicAlreadyExists; ListTopics shows 3 partitions, replication factor 1 and the two
// overrides; DescribeTopics: 3 partitions led by the controller DescribeCluster names;
// DescribeConfig: the overrides with source topic, segment.bytes 1073741824 as a default;
// IncrementalAlterConfig retention.ms, DescribeConfig shows it; the broker's DescribeConfig has
// message.max.bytes 1048588; CreatePartitions 4; DeleteTopic -> gone from ListTopics.
func saramaAdmin(ctx context.Context, bs string) (string, error) {
	adm, err := sarama.NewClusterAdmin([]string{bs}, saramaConfig("go-sarama-admin"))
	if err != nil {
		return "", fmt.Errorf("cluster admin: %w", err)
	}
	defer adm.Close()
	brokers, controller, err := adm.DescribeCluster()
	if err != nil || len(brokers) != 1 || brokers[0].ID() != controller {
		return "", fmt.Errorf("describe cluster: %v, %d brokers, controller %d", err, len(brokers), controller)
	}
	topic := unique("go-sarama-admin")
	ret, compact := "7200000", "compact"
	if err := saramaCreateTopic(ctx, adm, topic, 3, map[string]*string{"retention.ms": &ret, "cleanup.policy": &compact}); err != nil {
		return "", err
	}
	err = adm.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 3, ReplicationFactor: 1}, false)
	if !errors.Is(err, sarama.ErrTopicAlreadyExists) {
		return "", fmt.Errorf("second create: %v, expected ErrTopicAlreadyExists", err)
	}
	lt, err := adm.ListTopics()
	if err != nil {
		return "", fmt.Errorf("list topics: %w", err)
	}
	d, ok := lt[topic]
	if !ok || d.NumPartitions != 3 || d.ReplicationFactor != 1 {
		return "", fmt.Errorf("list topics: %s listed %v as %+v", topic, ok, d)
	}
	if d.ConfigEntries["retention.ms"] == nil || *d.ConfigEntries["retention.ms"] != ret ||
		d.ConfigEntries["cleanup.policy"] == nil || *d.ConfigEntries["cleanup.policy"] != compact {
		return "", fmt.Errorf("list topics: config entries %v lack retention.ms=%s cleanup.policy=%s", d.ConfigEntries, ret, compact)
	}
	md, err := adm.DescribeTopics([]string{topic})
	if err != nil || len(md) != 1 {
		return "", fmt.Errorf("describe topics: %v", err)
	}
	for _, p := range md[0].Partitions {
		if p.Leader != controller {
			return "", fmt.Errorf("describe topics: partition %d leader %d, the only broker is %d", p.ID, p.Leader, controller)
		}
	}
	describe := func() (map[string]sarama.ConfigEntry, error) {
		es, err := adm.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic})
		if err != nil {
			return nil, fmt.Errorf("describe config: %w", err)
		}
		out := map[string]sarama.ConfigEntry{}
		for _, e := range es {
			out[e.Name] = e
		}
		return out, nil
	}
	cs, err := describe()
	if err != nil {
		return "", err
	}
	for _, c := range []struct {
		name, value string
		source      sarama.ConfigSource
	}{{"retention.ms", ret, sarama.SourceTopic}, {"cleanup.policy", compact, sarama.SourceTopic}, {"segment.bytes", "1073741824", sarama.SourceDefault}} {
		e := cs[c.name]
		if e.Value != c.value || e.Source != c.source || e.Default != (c.source == sarama.SourceDefault) {
			return "", fmt.Errorf("describe config %s: %q source %v default %v; expected %q source %v", c.name, e.Value, e.Source, e.Default, c.value, c.source)
		}
	}
	newRet := "3600000"
	if err := adm.IncrementalAlterConfig(sarama.TopicResource, topic, map[string]sarama.IncrementalAlterConfigsEntry{
		"retention.ms": {Operation: sarama.IncrementalAlterConfigsOperationSet, Value: &newRet},
	}, false); err != nil {
		return "", fmt.Errorf("incremental alter config: %w", err)
	}
	// Kafka applies the change to what it describes a moment after answering: wait, bounded
	if err := waitFor(ctx, 15*time.Second, "the altered retention.ms described", func() (bool, string) {
		if cs, err = describe(); err != nil {
			return false, err.Error()
		}
		return cs["retention.ms"].Value == newRet && cs["cleanup.policy"].Value == compact,
			fmt.Sprintf("retention.ms %q cleanup.policy %q, expected %s and %s", cs["retention.ms"].Value, cs["cleanup.policy"].Value, newRet, compact)
	}); err != nil {
		return "", err
	}
	bes, err := adm.DescribeConfig(sarama.ConfigResource{Type: sarama.BrokerResource, Name: fmt.Sprint(controller)})
	if err != nil {
		return "", fmt.Errorf("describe broker config: %w", err)
	}
	mmb := ""
	for _, e := range bes {
		if e.Name == "message.max.bytes" {
			mmb = e.Value
		}
	}
	if mmb != "1048588" {
		return "", fmt.Errorf("broker %d message.max.bytes %q, expected 1048588 (%d entries)", controller, mmb, len(bes))
	}
	if err := adm.CreatePartitions(topic, 4, nil, false); err != nil {
		return "", fmt.Errorf("create partitions: %w", err)
	}
	if err := waitFor(ctx, 30*time.Second, topic+" with 4 partitions", func() (bool, string) {
		md, err := adm.DescribeTopics([]string{topic})
		if err != nil || len(md) != 1 {
			return false, fmt.Sprint(err)
		}
		return len(md[0].Partitions) == 4, fmt.Sprintf("%d partitions", len(md[0].Partitions))
	}); err != nil {
		return "", err
	}
	if err := adm.DeleteTopic(topic); err != nil {
		return "", fmt.Errorf("delete topic: %w", err)
	}
	if err := waitFor(ctx, 30*time.Second, topic+" gone from ListTopics", func() (bool, string) {
		lt, err := adm.ListTopics()
		if err != nil {
			return false, err.Error()
		}
		_, ok := lt[topic]
		return !ok, "still listed"
	}); err != nil {
		return "", err
	}
	return fmt.Sprintf("broker %d, %d broker configs", controller, len(bes)), nil
}
