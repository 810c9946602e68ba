package main

// franz-go's admin client (github.com/twmb/franz-go/pkg/kadm) scenarios.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func newAdmin(bs string, more ...kgo.Opt) (*kadm.Client, *kgo.Client, error) {
	cl, err := kgo.NewClient(kgoOpts(bs, more...)...)
	if err != nil {
		return nil, nil, err
	}
	return kadm.NewClient(cl), cl, nil
}

func strp(s string) *string { return &s }

// theBroker returns the id of the cluster's only broker (it fails when there is not exactly one).
func theBroker(ctx context.Context, adm *kadm.Client) (int32, error) {
	bs, err := adm.ListBrokers(ctx)
	if err != nil {
		return 0, fmt.Errorf("list brokers: %w", err)
	}
	if len(bs) != 1 {
		return 0, fmt.Errorf("list brokers: %d brokers (%v), expected 1", len(bs), bs)
	}
	return bs[0].NodeID, nil
}

// kadm-topics: CreateTopics (3 partitions, retention.ms) answers the topic id, 3 partitions,
// replication factor 1 and the config; the same name again is TOPIC_ALREADY_EXISTS, a name with
// "/" INVALID_TOPIC_EXCEPTION; ValidateCreateTopics creates nothing; ListTopics shows 3 partitions
// led by the only broker (replicas and ISR = [it]) under the same id; UpdatePartitions 5 grows it,
// UpdatePartitions 2 is INVALID_PARTITIONS; DeleteTopics removes it from metadata, and a second
// delete is UNKNOWN_TOPIC_OR_PARTITION.
func kadmTopics(ctx context.Context, bs string) (string, error) {
	adm, cl, err := newAdmin(bs)
	if err != nil {
		return "", err
	}
	defer cl.Close()
	broker, err := theBroker(ctx, adm)
	if err != nil {
		return "", err
	}
	topic := unique("go-kadm-topics")
	resp, err := adm.CreateTopic(ctx, 3, 1, map[string]*string{"retention.ms": strp("3600000")}, topic)
	if err = firstErr(err, resp.Err); err != nil {
		return "", fmt.Errorf("create: %w (%s)", err, resp.ErrMessage)
	}
	if resp.NumPartitions != 3 || resp.ReplicationFactor != 1 || resp.ID == (kadm.TopicID{}) {
		return "", fmt.Errorf("create answered %d partitions, replication factor %d, id %v; expected 3, 1, a non-zero id",
			resp.NumPartitions, resp.ReplicationFactor, resp.ID)
	}
	if c, ok := resp.Configs["retention.ms"]; !ok || c.Value == nil || *c.Value != "3600000" {
		return "", fmt.Errorf("create answered retention.ms %+v, expected 3600000", resp.Configs["retention.ms"])
	}
	again, err := adm.CreateTopic(ctx, 3, 1, nil, topic) // kadm returns the topic's error as err too
	if !errors.Is(firstErr(err, again.Err), kerr.TopicAlreadyExists) {
		return "", fmt.Errorf("second create: %v / %v, expected TOPIC_ALREADY_EXISTS", err, again.Err)
	}
	bad, err := adm.CreateTopic(ctx, 1, 1, nil, "go/kadm/bad")
	if !errors.Is(firstErr(err, bad.Err), kerr.InvalidTopicException) {
		return "", fmt.Errorf("create of go/kadm/bad: %v / %v, expected INVALID_TOPIC_EXCEPTION", err, bad.Err)
	}
	dry := unique("go-kadm-dry")
	vr, err := adm.ValidateCreateTopics(ctx, 2, 1, nil, dry)
	if err != nil || vr[dry].Err != nil {
		return "", fmt.Errorf("validate-only create: %v / %v", err, vr[dry].Err)
	}

	partsAre := func(n int) error {
		return waitFor(ctx, 30*time.Second, fmt.Sprintf("%s with %d partitions", topic, n), func() (bool, string) {
			td, err := adm.ListTopics(ctx, topic)
			if err != nil {
				return false, err.Error()
			}
			d := td[topic]
			if d.Err != nil || len(d.Partitions) != n {
				return false, fmt.Sprintf("err %v, %d partitions", d.Err, len(d.Partitions))
			}
			if d.ID != resp.ID {
				return false, fmt.Sprintf("topic id %v, created as %v", d.ID, resp.ID)
			}
			for _, p := range d.Partitions {
				if p.Leader != broker || fmt.Sprint(p.Replicas) != fmt.Sprint([]int32{broker}) || fmt.Sprint(p.ISR) != fmt.Sprint([]int32{broker}) {
					return false, fmt.Sprintf("partition %d leader %d replicas %v isr %v", p.Partition, p.Leader, p.Replicas, p.ISR)
				}
			}
			return true, ""
		})
	}
	if err := partsAre(3); err != nil {
		return "", err
	}
	all, err := adm.ListTopics(ctx)
	if err != nil {
		return "", err
	}
	if _, ok := all[dry]; ok {
		return "", fmt.Errorf("the validate-only create made topic %s", dry)
	}
	if _, ok := all[topic]; !ok {
		return "", fmt.Errorf("ListTopics of all topics lacks %s", topic)
	}
	up, err := adm.UpdatePartitions(ctx, 5, topic)
	if err = firstErr(err, up[topic].Err); err != nil {
		return "", fmt.Errorf("update partitions to 5: %w", err)
	}
	if err := partsAre(5); err != nil {
		return "", err
	}
	down, err := adm.UpdatePartitions(ctx, 2, topic)
	if err != nil || !errors.Is(down[topic].Err, kerr.InvalidPartitions) {
		return "", fmt.Errorf("update partitions to 2: %v / %v, expected INVALID_PARTITIONS", err, down[topic].Err)
	}
	del, err := adm.DeleteTopic(ctx, topic)
	if err = firstErr(err, del.Err); err != nil {
		return "", fmt.Errorf("delete: %w", err)
	}
	if err := waitFor(ctx, 30*time.Second, topic+" gone from metadata", func() (bool, string) {
		td, err := adm.ListTopics(ctx, topic)
		if err != nil {
			return false, err.Error()
		}
		d, ok := td[topic]
		return !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition), fmt.Sprintf("listed: %v, err %v", ok, d.Err)
	}); err != nil {
		return "", err
	}
	del2, err := adm.DeleteTopic(ctx, topic)
	if !errors.Is(firstErr(err, del2.Err), kerr.UnknownTopicOrPartition) {
		return "", fmt.Errorf("second delete: %v / %v, expected UNKNOWN_TOPIC_OR_PARTITION", err, del2.Err)
	}
	return fmt.Sprintf("broker %d, topic id %v", broker, resp.ID), nil
}

type configView struct {
	value  string
	null   bool
	source kmsg.ConfigSource
}

func (c configView) String() string {
	if c.null {
		return fmt.Sprintf("null (source %v)", c.source)
	}
	return fmt.Sprintf("%q (source %v)", c.value, c.source)
}

func topicConfigs(ctx context.Context, adm *kadm.Client, topic string) (map[string]configView, error) {
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("describe configs: %w", err)
	}
	rc, err := rcs.On(topic, nil)
	if err = firstErr(err, rc.Err); err != nil {
		return nil, fmt.Errorf("describe configs of %s: %w", topic, err)
	}
	out := map[string]configView{}
	for _, c := range rc.Configs {
		v := configView{source: c.Source, null: c.Value == nil}
		if c.Value != nil {
			v.value = *c.Value
		}
		out[c.Key] = v
	}
	return out, nil
}

func expectConfigs(what string, got map[string]configView, want map[string]configView) error {
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			return fmt.Errorf("%s: %s not described", what, k)
		}
		if g != w {
			return fmt.Errorf("%s: %s is %v, expected %v", what, k, g, w)
		}
	}
	return nil
}

// awaitConfigs describes the topic's configs until want holds (bounded: Kafka applies a config
// change to what its brokers describe a moment after answering the alter) and returns them.
func awaitConfigs(ctx context.Context, adm *kadm.Client, topic, what string, want map[string]configView) (map[string]configView, error) {
	var got map[string]configView
	var last error
	werr := waitFor(ctx, 15*time.Second, what, func() (bool, string) {
		var err error
		if got, err = topicConfigs(ctx, adm, topic); err != nil {
			last = err
			return false, err.Error()
		}
		last = expectConfigs(what, got, want)
		return last == nil, fmt.Sprint(last)
	})
	if werr != nil {
		if last != nil {
			return got, last
		}
		return got, werr
	}
	return got, nil
}

// kadm-configs: DescribeConfigs of a topic made with retention.ms (DYNAMIC_TOPIC_CONFIG) and
// defaults (cleanup.policy "delete", max.message.bytes "1048588", DEFAULT_CONFIG);
// IncrementalAlterConfigs SET max.message.bytes, DELETE retention.ms (back to the default
// 604800000), APPEND compact to cleanup.policy ("delete,compact"), then SUBTRACT delete
// ("compact"); a non-numeric retention.ms is INVALID_CONFIG and changes nothing; the legacy
// AlterConfigs with only retention.ms resets every other override; the broker's own configs
// describe message.max.bytes.
func kadmConfigs(ctx context.Context, bs string) (string, error) {
	adm, cl, err := newAdmin(bs)
	if err != nil {
		return "", err
	}
	defer cl.Close()
	topic := unique("go-kadm-configs")
	if err := kgoCreateTopic(ctx, adm, topic, 1, map[string]*string{"retention.ms": strp("3600000")}); err != nil {
		return "", err
	}
	dyn, def := kmsg.ConfigSourceDynamicTopicConfig, kmsg.ConfigSourceDefaultConfig
	got, err := awaitConfigs(ctx, adm, topic, "as created", map[string]configView{
		"retention.ms":      {value: "3600000", source: dyn},
		"cleanup.policy":    {value: "delete", source: def},
		"max.message.bytes": {value: "1048588", source: def},
	})
	if err != nil {
		return "", err
	}
	alter := func(what string, cs ...kadm.AlterConfig) error {
		rs, err := adm.AlterTopicConfigs(ctx, cs, topic)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		for _, r := range rs {
			if r.Err != nil {
				return fmt.Errorf("%s: %w (%s)", what, r.Err, r.ErrMessage)
			}
		}
		return nil
	}
	if err := alter("incremental set/delete/append",
		kadm.AlterConfig{Op: kadm.SetConfig, Name: "max.message.bytes", Value: strp("2000000")},
		kadm.AlterConfig{Op: kadm.DeleteConfig, Name: "retention.ms"},
		kadm.AlterConfig{Op: kadm.AppendConfig, Name: "cleanup.policy", Value: strp("compact")},
	); err != nil {
		return "", err
	}
	if got, err = awaitConfigs(ctx, adm, topic, "after set/delete/append", map[string]configView{
		"max.message.bytes": {value: "2000000", source: dyn},
		"retention.ms":      {value: "604800000", source: def},
		"cleanup.policy":    {value: "delete,compact", source: dyn},
	}); err != nil {
		return "", err
	}
	if err := alter("incremental subtract", kadm.AlterConfig{Op: kadm.SubtractConfig, Name: "cleanup.policy", Value: strp("delete")}); err != nil {
		return "", err
	}
	if got, err = awaitConfigs(ctx, adm, topic, "after subtract", map[string]configView{"cleanup.policy": {value: "compact", source: dyn}}); err != nil {
		return "", err
	}
	rs, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: strp("soon")}}, topic)
	if err != nil || len(rs) != 1 || !errors.Is(rs[0].Err, kerr.InvalidConfig) {
		return "", fmt.Errorf("set retention.ms=soon: %v / %+v, expected INVALID_CONFIG", err, rs)
	}
	if got, err = awaitConfigs(ctx, adm, topic, "after the refused set", map[string]configView{"retention.ms": {value: "604800000", source: def}}); err != nil {
		return "", err
	}
	rs, err = adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: strp("7200000")}}, topic)
	if err = firstErr(err, func() error {
		for _, r := range rs {
			if r.Err != nil {
				return r.Err
			}
		}
		return nil
	}()); err != nil {
		return "", fmt.Errorf("legacy AlterConfigs: %w", err)
	}
	if got, err = awaitConfigs(ctx, adm, topic, "after the legacy AlterConfigs", map[string]configView{
		"retention.ms":      {value: "7200000", source: dyn},
		"max.message.bytes": {value: "1048588", source: def},
		"cleanup.policy":    {value: "delete", source: def},
	}); err != nil {
		return "", err
	}
	broker, err := theBroker(ctx, adm)
	if err != nil {
		return "", err
	}
	brcs, err := adm.DescribeBrokerConfigs(ctx, broker)
	if err != nil || len(brcs) != 1 || brcs[0].Err != nil {
		return "", fmt.Errorf("describe broker %d configs: %v / %+v", broker, err, brcs)
	}
	found := ""
	for _, c := range brcs[0].Configs {
		if c.Key == "message.max.bytes" && c.Value != nil {
			found = *c.Value
		}
	}
	if found != "1048588" {
		return "", fmt.Errorf("broker %d message.max.bytes is %q, expected 1048588 (%d configs described)", broker, found, len(brcs[0].Configs))
	}
	return fmt.Sprintf("%d topic configs, %d broker configs", len(got), len(brcs[0].Configs)), nil
}

// kadm-offsets: partition 0 gets 10 records stamped base+0s..base+9s, partition 1 five; ListOffsets
// earliest 0/0, latest 10/5, read_committed latest 10/5, by time base+2.5s -> 3/3 (timestamps
// base+3s), past the last record -> the end offsets (kadm asks again for latest), max timestamp ->
// 9/4; DeleteRecords partition 0 before 4 -> low watermark 4, partition 1 before -1 (the high
// watermark) -> 5, partition 0 before 20 -> OFFSET_OUT_OF_RANGE; then earliest is 4/5, by time
// base -> 4, and a consumer from the start of partition 0 reads exactly offsets 4..9.
func kadmOffsets(ctx context.Context, bs string) (string, error) {
	adm, cl, err := newAdmin(bs, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return "", err
	}
	defer cl.Close()
	topic := unique("go-kadm-offsets")
	if err := kgoCreateTopic(ctx, adm, topic, 2, nil); err != nil {
		return "", err
	}
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	var recs []*kgo.Record
	for p, n := range []int{10, 5} {
		for i := 0; i < n; i++ {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(p), Value: []byte(fmt.Sprintf("p%d-%d", p, i)),
				Timestamp: base.Add(time.Duration(i) * time.Second)})
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return "", fmt.Errorf("produce: %w", err)
	}
	type off struct{ Offset, Timestamp int64 }
	list := func(what string, f func() (kadm.ListedOffsets, error), withTS bool) (map[int32]off, error) {
		lo, err := f()
		if err == nil {
			err = lo.Error()
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out := map[int32]off{}
		for p, o := range lo[topic] {
			v := off{Offset: o.Offset, Timestamp: -1}
			if withTS {
				v.Timestamp = o.Timestamp
			}
			out[p] = v
		}
		return out, nil
	}
	ms := func(d time.Duration) int64 { return base.Add(d).UnixMilli() }
	checks := []struct {
		what   string
		f      func() (kadm.ListedOffsets, error)
		withTS bool
		want   map[int32]off
	}{
		{"earliest", func() (kadm.ListedOffsets, error) { return adm.ListStartOffsets(ctx, topic) }, false, map[int32]off{0: {0, -1}, 1: {0, -1}}},
		{"latest", func() (kadm.ListedOffsets, error) { return adm.ListEndOffsets(ctx, topic) }, false, map[int32]off{0: {10, -1}, 1: {5, -1}}},
		{"latest read_committed", func() (kadm.ListedOffsets, error) { return adm.ListCommittedOffsets(ctx, topic) }, false, map[int32]off{0: {10, -1}, 1: {5, -1}}},
		{"by time base+2.5s", func() (kadm.ListedOffsets, error) {
			return adm.ListOffsetsAfterMilli(ctx, ms(2500*time.Millisecond), topic)
		}, true,
			map[int32]off{0: {3, ms(3 * time.Second)}, 1: {3, ms(3 * time.Second)}}},
		{"by time past the last record", func() (kadm.ListedOffsets, error) { return adm.ListOffsetsAfterMilli(ctx, ms(time.Minute), topic) }, false,
			map[int32]off{0: {10, -1}, 1: {5, -1}}},
		{"max timestamp", func() (kadm.ListedOffsets, error) { return adm.ListMaxTimestampOffsets(ctx, topic) }, true,
			map[int32]off{0: {9, ms(9 * time.Second)}, 1: {4, ms(4 * time.Second)}}},
	}
	for _, c := range checks {
		got, err := list(c.what, c.f, c.withTS)
		if err != nil {
			return "", err
		}
		if err := expectEq("ListOffsets "+c.what, c.want, got); err != nil {
			return "", err
		}
	}
	dr, err := adm.DeleteRecords(ctx, kadm.Offsets{topic: {0: {Topic: topic, Partition: 0, At: 4}, 1: {Topic: topic, Partition: 1, At: -1}}})
	if err != nil {
		return "", fmt.Errorf("delete records: %w", err)
	}
	lows := map[int32]int64{}
	for p, r := range dr[topic] {
		if r.Err != nil {
			return "", fmt.Errorf("delete records partition %d: %w", p, r.Err)
		}
		lows[p] = r.LowWatermark
	}
	if err := expectEq("delete records low watermarks", map[int32]int64{0: 4, 1: 5}, lows); err != nil {
		return "", err
	}
	dr, err = adm.DeleteRecords(ctx, kadm.Offsets{topic: {0: {Topic: topic, Partition: 0, At: 20}}})
	if err != nil || !errors.Is(dr[topic][0].Err, kerr.OffsetOutOfRange) {
		return "", fmt.Errorf("delete records before 20 (past the end): %v / %v, expected OFFSET_OUT_OF_RANGE", err, dr[topic][0].Err)
	}
	got, err := list("earliest after delete", func() (kadm.ListedOffsets, error) { return adm.ListStartOffsets(ctx, topic) }, false)
	if err != nil {
		return "", err
	}
	if err := expectEq("earliest after delete records", map[int32]off{0: {4, -1}, 1: {5, -1}}, got); err != nil {
		return "", err
	}
	got, err = list("by time base after delete", func() (kadm.ListedOffsets, error) { return adm.ListOffsetsAfterMilli(ctx, ms(0), topic) }, false)
	if err != nil {
		return "", err
	}
	if got[0].Offset != 4 {
		return "", fmt.Errorf("by time base after delete records: partition 0 at %d, expected 4", got[0].Offset)
	}
	cons, err := kgo.NewClient(kgoOpts(bs, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))...)
	if err != nil {
		return "", err
	}
	defer cons.Close()
	read, err := pollExactly(ctx, cons, 6, 20*time.Second, 500*time.Millisecond)
	if err != nil {
		return "", fmt.Errorf("partition 0 after delete records: %w", err)
	}
	var offs []string
	for _, r := range read {
		offs = append(offs, fmt.Sprintf("%d:%s", r.Offset, r.Value))
	}
	if err := expectEq("partition 0 read from the start", []string{"4:p0-4", "5:p0-5", "6:p0-6", "7:p0-7", "8:p0-8", "9:p0-9"}, offs); err != nil {
		return "", err
	}
	return "", nil
}

// kadm-groups: one kgo member (range assignor, client id go-kadm-member) of a 2-partition topic
// reads 6+6 records and commits; DescribeGroups: Stable, protocol type consumer, protocol range,
// one member with that client id, subscribed to the topic, assigned both partitions; ListGroups
// lists it Stable; FetchOffsets 6/6; Lag 0/0. After the member leaves: Empty with no members;
// CommitOffsets (admin, generation -1) partition 0 -> 2 with metadata, read back with it;
// DeleteOffsets partition 1 -> gone from FetchOffsets; DeleteGroups -> gone from ListGroups and
// FetchOffsets empty; a second DeleteGroups is GROUP_ID_NOT_FOUND.
func kadmGroups(ctx context.Context, bs string) (string, error) {
	adm, cl, err := newAdmin(bs, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return "", err
	}
	defer cl.Close()
	broker, err := theBroker(ctx, adm)
	if err != nil {
		return "", err
	}
	topic, group := unique("go-kadm-groups"), unique("go-kadm-g")
	if err := kgoCreateTopic(ctx, adm, topic, 2, nil); err != nil {
		return "", err
	}
	if err := produceEach(ctx, cl, topic, 2, 0, 6, "g", nil); err != nil {
		return "", err
	}
	m, err := startGroupMember(ctx, bs, "go-kadm-member", group, topic, kgo.Balancers(kgo.RangeBalancer()))
	if err != nil {
		return "", err
	}
	defer m.close()
	if err := waitFor(ctx, 30*time.Second, "the member read 12 records", func() (bool, string) {
		as, n, perr := m.snapshot()
		return (n >= 12 && len(as) == 2) || perr != nil, fmt.Sprintf("assigned %v, read %d", partitionsOf(as), n)
	}); err != nil {
		return "", err
	}
	m.stopPolling()
	if _, n, perr := m.snapshot(); perr != nil || n != 12 {
		return "", fmt.Errorf("member read %d records (err %v), expected 12", n, perr)
	}
	if err := m.cl.CommitUncommittedOffsets(ctx); err != nil {
		return "", fmt.Errorf("member commit: %w", err)
	}
	dg, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return "", fmt.Errorf("describe groups: %w", err)
	}
	d := dg[group]
	if d.Err != nil || d.State != "Stable" || d.ProtocolType != "consumer" || d.Protocol != "range" || len(d.Members) != 1 || d.Coordinator.NodeID != broker {
		return "", fmt.Errorf("describe groups: err %v state %q protocol type %q protocol %q %d members coordinator %d; expected Stable, consumer, range, 1, %d",
			d.Err, d.State, d.ProtocolType, d.Protocol, len(d.Members), d.Coordinator.NodeID, broker)
	}
	mem := d.Members[0]
	join, ok1 := mem.Join.AsConsumer()
	asg, ok2 := mem.Assigned.AsConsumer()
	if mem.ClientID != "go-kadm-member" || !ok1 || !ok2 {
		return "", fmt.Errorf("member: client id %q, metadata decoded %v, assignment decoded %v", mem.ClientID, ok1, ok2)
	}
	if err := expectEq("member subscription", []string{topic}, join.Topics); err != nil {
		return "", err
	}
	var assigned []string
	for _, t := range asg.Topics {
		ps := append([]int32(nil), t.Partitions...)
		sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
		assigned = append(assigned, fmt.Sprintf("%s:%s", t.Topic, joinInts(ps)))
	}
	if err := expectEq("member assignment", []string{topic + ":0,1"}, assigned); err != nil {
		return "", err
	}
	lg, err := adm.ListGroups(ctx)
	if err != nil {
		return "", fmt.Errorf("list groups: %w", err)
	}
	if l, ok := lg[group]; !ok || l.State != "Stable" || l.ProtocolType != "consumer" {
		return "", fmt.Errorf("list groups: %s listed %v as %+v, expected Stable/consumer", group, ok, l)
	}
	offs, err := kgoGroupOffsets(ctx, adm, group, topic)
	if err != nil {
		return "", err
	}
	if err := expectEq("committed offsets", map[int32]int64{0: 6, 1: 6}, offs); err != nil {
		return "", err
	}
	lags, err := adm.Lag(ctx, group)
	if err != nil {
		return "", fmt.Errorf("lag: %w", err)
	}
	lagOf := map[int32]int64{}
	for p, l := range lags[group].Lag[topic] {
		if l.Err != nil {
			return "", fmt.Errorf("lag partition %d: %w", p, l.Err)
		}
		lagOf[p] = l.Lag
	}
	if err := expectEq("lag", map[int32]int64{0: 0, 1: 0}, lagOf); err != nil {
		return "", err
	}

	m.close()
	if err := waitFor(ctx, 30*time.Second, "the group empty after the member left", func() (bool, string) {
		dg, err := adm.DescribeGroups(ctx, group)
		if err != nil {
			return false, err.Error()
		}
		return dg[group].State == "Empty" && len(dg[group].Members) == 0, fmt.Sprintf("state %q, %d members", dg[group].State, len(dg[group].Members))
	}); err != nil {
		return "", err
	}
	var commit kadm.Offsets
	commit.Add(kadm.Offset{Topic: topic, Partition: 0, At: 2, LeaderEpoch: -1, Metadata: "go-kadm-meta"})
	cr, err := adm.CommitOffsets(ctx, group, commit)
	if err == nil {
		err = cr.Error()
	}
	if err != nil {
		return "", fmt.Errorf("admin commit to the empty group: %w", err)
	}
	fo, err := adm.FetchOffsets(ctx, group)
	if err == nil {
		err = fo.Error()
	}
	if err != nil {
		return "", fmt.Errorf("fetch offsets: %w", err)
	}
	o0, _ := fo.Lookup(topic, 0)
	o1, _ := fo.Lookup(topic, 1)
	if o0.At != 2 || o0.Metadata != "go-kadm-meta" || o1.At != 6 {
		return "", fmt.Errorf("after the admin commit: partition 0 %d %q, partition 1 %d; expected 2 \"go-kadm-meta\", 6", o0.At, o0.Metadata, o1.At)
	}
	dor, err := adm.DeleteOffsets(ctx, group, kadm.TopicsSet{topic: {1: {}}})
	if err == nil {
		err = dor.Error()
	}
	if err != nil {
		return "", fmt.Errorf("delete offsets: %w", err)
	}
	if offs, err = kgoGroupOffsets(ctx, adm, group, topic); err != nil {
		return "", err
	}
	delete(offs, -1)
	for p, o := range offs {
		if o < 0 {
			delete(offs, p) // a partition answered without an offset
		}
	}
	if err := expectEq("offsets after deleting partition 1's", map[int32]int64{0: 2}, offs); err != nil {
		return "", err
	}
	dgr, err := adm.DeleteGroup(ctx, group)
	if err = firstErr(err, dgr.Err); err != nil {
		return "", fmt.Errorf("delete group: %w", err)
	}
	lg, err = adm.ListGroups(ctx)
	if err != nil {
		return "", err
	}
	if _, ok := lg[group]; ok {
		return "", fmt.Errorf("list groups still lists %s after its deletion", group)
	}
	if offs, err = kgoGroupOffsets(ctx, adm, group, topic); err != nil {
		return "", err
	}
	if len(offs) != 0 {
		return "", fmt.Errorf("deleted group still has offsets %v", offs)
	}
	dgr, err = adm.DeleteGroup(ctx, group)
	if !errors.Is(firstErr(err, dgr.Err), kerr.GroupIDNotFound) {
		return "", fmt.Errorf("second delete group: %v / %v, expected GROUP_ID_NOT_FOUND", err, dgr.Err)
	}
	return fmt.Sprintf("member %s", mem.MemberID), nil
}

// kadm-txns: a kgo transactional producer opens a transaction with 3 records on partition 0 and 2
// on partition 1. While open: ListTransactions (state filter Ongoing, and by producer id) lists
// it with that producer id; DescribeTransactions: Ongoing, timeout 45000 ms, a start time, both
// partitions; DescribeProducers: last sequence 2 / 1 and the transaction starting at offset 0;
// last stable offsets 0/0 while the end offsets are 3/2. After the commit: DescribeTransactions
// CompleteCommit with no partitions, not listed under Ongoing, DescribeProducers shows no open
// transaction, last stable offsets 4/3 (records + marker).
func kadmTransactions(ctx context.Context, bs string) (string, error) {
	adm, cl, err := newAdmin(bs)
	if err != nil {
		return "", err
	}
	defer cl.Close()
	topic, txid := unique("go-kadm-txns"), unique("go-kadm-tx")
	if err := kgoCreateTopic(ctx, adm, topic, 2, nil); err != nil {
		return "", err
	}
	tx, err := kgo.NewClient(kgoOpts(bs, kgo.TransactionalID(txid), kgo.TransactionTimeout(45*time.Second),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		return "", err
	}
	defer tx.Close()
	if err := tx.BeginTransaction(); err != nil {
		return "", fmt.Errorf("begin: %w", err)
	}
	var recs []*kgo.Record
	for p, n := range []int{3, 2} {
		for i := 0; i < n; i++ {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(p), Value: []byte(fmt.Sprintf("tx-p%d-%d", p, i))})
		}
	}
	if err := tx.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return "", fmt.Errorf("produce in the transaction: %w", err)
	}
	pid := recs[0].ProducerID
	epoch := recs[0].ProducerEpoch
	listed := func(pids []int64, states []string) (kadm.ListedTransaction, bool, error) {
		lt, err := adm.ListTransactions(ctx, pids, states)
		if err != nil {
			return kadm.ListedTransaction{}, false, fmt.Errorf("list transactions: %w", err)
		}
		l, ok := lt[txid]
		return l, ok, nil
	}
	l, ok, err := listed(nil, []string{"Ongoing"})
	if err != nil {
		return "", err
	}
	if !ok || l.ProducerID != pid || l.State != "Ongoing" {
		return "", fmt.Errorf("list transactions (Ongoing): %s listed %v as %+v, expected producer %d Ongoing", txid, ok, l, pid)
	}
	if l, ok, err = listed([]int64{pid}, nil); err != nil || !ok || l.State != "Ongoing" {
		return "", fmt.Errorf("list transactions by producer id %d: %v, listed %v as %+v", pid, err, ok, l)
	}
	dt, err := adm.DescribeTransactions(ctx, txid)
	if err != nil {
		return "", fmt.Errorf("describe transactions: %w", err)
	}
	d := dt[txid]
	if d.Err != nil || d.State != "Ongoing" || d.ProducerID != pid || d.ProducerEpoch != epoch || d.TimeoutMillis != 45000 || d.StartTimestamp <= 0 {
		return "", fmt.Errorf("describe transactions (open): %+v; expected Ongoing, producer %d/%d, timeout 45000, a start time", d, pid, epoch)
	}
	var parts []string
	d.Topics.Each(func(t string, p int32) { parts = append(parts, fmt.Sprintf("%s:%d", t, p)) })
	sort.Strings(parts)
	if err := expectEq("partitions of the open transaction", []string{topic + ":0", topic + ":1"}, parts); err != nil {
		return "", err
	}
	producers := func() (map[int32]kadm.DescribedProducer, error) {
		dp, err := adm.DescribeProducers(ctx, kadm.TopicsSet{topic: {0: {}, 1: {}}})
		if err != nil {
			return nil, fmt.Errorf("describe producers: %w", err)
		}
		out := map[int32]kadm.DescribedProducer{}
		for p, part := range dp[topic].Partitions {
			if part.Err != nil {
				return nil, fmt.Errorf("describe producers partition %d: %w", p, part.Err)
			}
			d, ok := part.ActiveProducers[pid]
			if !ok {
				return nil, fmt.Errorf("describe producers partition %d: producer %d not listed", p, pid)
			}
			out[p] = d
		}
		return out, nil
	}
	dp, err := producers()
	if err != nil {
		return "", err
	}
	if dp[0].LastSequence != 2 || dp[1].LastSequence != 1 || dp[0].CurrentTxnStartOffset != 0 || dp[1].CurrentTxnStartOffset != 0 {
		return "", fmt.Errorf("describe producers (open): %+v; expected last sequences 2 and 1, transaction start offsets 0 and 0", dp)
	}
	offsets := func(f func(context.Context, ...string) (kadm.ListedOffsets, error)) (map[int32]int64, error) {
		lo, err := f(ctx, topic)
		if err == nil {
			err = lo.Error()
		}
		if err != nil {
			return nil, err
		}
		out := map[int32]int64{}
		for p, o := range lo[topic] {
			out[p] = o.Offset
		}
		return out, nil
	}
	lso, err := offsets(adm.ListCommittedOffsets)
	if err != nil {
		return "", err
	}
	end, err := offsets(adm.ListEndOffsets)
	if err != nil {
		return "", err
	}
	if err := firstErr(expectEq("last stable offsets (open)", map[int32]int64{0: 0, 1: 0}, lso),
		expectEq("end offsets (open)", map[int32]int64{0: 3, 1: 2}, end)); err != nil {
		return "", err
	}

	if err := tx.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return "", fmt.Errorf("commit: %w", err)
	}
	if err := waitFor(ctx, 30*time.Second, "the transaction CompleteCommit", func() (bool, string) {
		dt, err := adm.DescribeTransactions(ctx, txid)
		if err != nil {
			return false, err.Error()
		}
		d := dt[txid]
		return d.Err == nil && d.State == "CompleteCommit" && len(d.Topics) == 0 && d.ProducerID == pid,
			fmt.Sprintf("%+v", d)
	}); err != nil {
		return "", err
	}
	if _, ok, err := listed(nil, []string{"Ongoing"}); err != nil || ok {
		return "", fmt.Errorf("list transactions (Ongoing) after the commit: %v, listed %v", err, ok)
	}
	if l, ok, err := listed(nil, nil); err != nil || !ok || l.State != "CompleteCommit" {
		return "", fmt.Errorf("list transactions after the commit: %v, listed %v as %+v, expected CompleteCommit", err, ok, l)
	}
	if err := waitFor(ctx, 30*time.Second, "no open transaction in DescribeProducers, last stable offsets 4/3", func() (bool, string) {
		dp, err := producers()
		if err != nil {
			return false, err.Error()
		}
		lso, err := offsets(adm.ListCommittedOffsets)
		if err != nil {
			return false, err.Error()
		}
		return dp[0].CurrentTxnStartOffset == -1 && dp[1].CurrentTxnStartOffset == -1 && lso[0] == 4 && lso[1] == 3,
			fmt.Sprintf("producers %+v, lso %v", dp, lso)
	}); err != nil {
		return "", err
	}
	return fmt.Sprintf("producer %d epoch %d", pid, epoch), nil
}
