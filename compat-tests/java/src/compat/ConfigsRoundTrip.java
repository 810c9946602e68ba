package compat;

import static compat.Common.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.AlterConfigOp.OpType;
import org.apache.kafka.clients.admin.AlterConfigsOptions;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ConfigEntry.ConfigSource;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.InvalidConfigurationException;

/**
 * IncrementalAlterConfigs on a topic, read back with DescribeConfigs.
 *
 *   ConfigsRoundTrip BOOTSTRAP                 the whole round trip on one broker (java/run.sh)
 *   ConfigsRoundTrip BOOTSTRAP set STATE       restart/run.sh: create a topic, apply overrides,
 *                                              check them, write topic + expected overrides
 *   ConfigsRoundTrip BOOTSTRAP verify STATE [next]
 *                                              after a broker restart: the overrides are exactly
 *                                              those in STATE; with "next", apply a second set of
 *                                              changes (DELETE, SET, SUBTRACT) and rewrite STATE
 *
 * Round trip: SET retention.ms / max.message.bytes / cleanup.policy=delete, APPEND
 * cleanup.policy compact, SUBTRACT delete, DELETE max.message.bytes; after every step
 * describeConfigs must report exactly the expected overrides (source DYNAMIC_TOPIC_CONFIG)
 * and every other key with source DEFAULT_CONFIG and its default value. validateOnly changes
 * nothing; invalid values, unknown keys, APPEND to a non-list key fail with
 * InvalidConfigurationException and leave the topic unchanged. Broker resources: static keys
 * are refused (InvalidConfigurationException); the dynamic log defaults, per broker and
 * cluster-wide, are inherited by the topic with their DYNAMIC_*BROKER_CONFIG source.
 */
public final class ConfigsRoundTrip {
    static final String NAME = "java/ConfigsRoundTrip";

    public static void main(String[] args) {
        String bootstrap = bootstrap(args);
        String mode = args.length > 1 ? args[1] : "all";
        run(NAME + (mode.equals("all") ? "" : "/" + mode), () -> {
            switch (mode) {
                case "all" -> all(bootstrap);
                case "set" -> set(bootstrap, Path.of(args[2]));
                case "verify" -> verify(bootstrap, Path.of(args[2]), args.length > 3 && args[3].equals("next"));
                default -> throw new IllegalArgumentException("mode " + mode);
            }
        });
    }

    static AlterConfigOp op(String name, String value, OpType t) {
        return new AlterConfigOp(new ConfigEntry(name, value), t);
    }

    static void alter(Admin admin, ConfigResource res, AlterConfigOp... ops) throws Exception {
        admin.incrementalAlterConfigs(Map.of(res, List.of(ops))).all().get();
    }

    static Config describe(Admin admin, ConfigResource res) throws Exception {
        return admin.describeConfigs(List.of(res)).all().get().get(res);
    }

    /** Values of every entry of a fresh topic (no overrides), all of which must be DEFAULT_CONFIG. */
    static Map<String, String> defaults(Admin admin, ConfigResource res) throws Exception {
        Config c = describe(admin, res);
        Map<String, String> d = new TreeMap<>();
        for (ConfigEntry e : c.entries()) {
            checkEq(ConfigSource.DEFAULT_CONFIG, e.source(), "source of " + e.name() + " on a topic without overrides");
            d.put(e.name(), e.value());
        }
        for (String k : List.of("retention.ms", "max.message.bytes", "cleanup.policy", "segment.bytes")) {
            check(d.containsKey(k), "describeConfigs(topic) has no " + k + " entry; got " + d.keySet());
        }
        return d;
    }

    /** describeConfigs must show exactly {@code overrides} as DYNAMIC_TOPIC_CONFIG and defaults elsewhere. */
    static void expectExactly(Admin admin, ConfigResource res, Map<String, String> overrides, Map<String, String> defaults, String when) throws Exception {
        expectExactly(admin, res, overrides, defaults, Map.of(), when);
    }

    /**
     * As above; {@code inherited} maps keys that are not overridden on the topic but set at a
     * dynamic broker layer to {source, value}.
     */
    static void expectExactly(Admin admin, ConfigResource res, Map<String, String> overrides, Map<String, String> defaults,
                              Map<String, Map.Entry<ConfigSource, String>> inherited, String when) throws Exception {
        Config c = describe(admin, res);
        Map<String, String> dynamic = new TreeMap<>();
        for (ConfigEntry e : c.entries()) {
            if (e.source() == ConfigSource.DYNAMIC_TOPIC_CONFIG) {
                dynamic.put(e.name(), e.value());
                check(!e.isDefault(), when + ": " + e.name() + " is an override but isDefault() is true");
            } else if (inherited.containsKey(e.name())) {
                checkEq(inherited.get(e.name()).getKey(), e.source(), when + ": source of " + e.name() + " (set at a broker layer)");
                checkEq(inherited.get(e.name()).getValue(), e.value(), when + ": value of " + e.name() + " (set at a broker layer)");
            } else {
                checkEq(ConfigSource.DEFAULT_CONFIG, e.source(), when + ": source of non-overridden " + e.name());
                if (defaults != null && defaults.containsKey(e.name())) {
                    checkEq(defaults.get(e.name()), e.value(), when + ": value of non-overridden " + e.name());
                }
            }
        }
        checkEq(new TreeMap<>(overrides), dynamic, when + ": DYNAMIC_TOPIC_CONFIG entries of describeConfigs");
        if (defaults != null) {
            checkEq(defaults.keySet(), new TreeMap<>(entries(c)).keySet(), when + ": set of config names");
        }
    }

    static Map<String, String> entries(Config c) {
        Map<String, String> m = new TreeMap<>();
        for (ConfigEntry e : c.entries()) m.put(e.name(), e.value());
        return m;
    }

    static void expectInvalid(Admin admin, ConfigResource res, String what, AlterConfigOp... ops) throws Exception {
        try {
            alter(admin, res, ops);
            throw new Mismatch(what + " was accepted; expected InvalidConfigurationException");
        } catch (ExecutionException e) {
            check(e.getCause() instanceof InvalidConfigurationException,
                    what + " failed with " + e.getCause() + "; expected InvalidConfigurationException");
            log(NAME, what + " -> " + e.getCause().getClass().getSimpleName() + ": " + e.getCause().getMessage());
        }
    }

    static void all(String bootstrap) throws Exception {
        String topic = uniqueTopic("java-configs");
        try (Admin admin = admin(bootstrap)) {
            admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get();
            ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, topic);
            Map<String, String> defaults = defaults(admin, res);
            log(NAME, "fresh topic: " + defaults.size() + " entries, all DEFAULT_CONFIG; retention.ms="
                    + defaults.get("retention.ms") + " max.message.bytes=" + defaults.get("max.message.bytes")
                    + " cleanup.policy=" + defaults.get("cleanup.policy"));
            Map<String, String> expected = new TreeMap<>();

            // SET
            alter(admin, res, op("retention.ms", "3600000", OpType.SET), op("max.message.bytes", "2000000", OpType.SET),
                    op("cleanup.policy", "delete", OpType.SET));
            expected.put("retention.ms", "3600000");
            expected.put("max.message.bytes", "2000000");
            expected.put("cleanup.policy", "delete");
            expectExactly(admin, res, expected, defaults, "after SET");

            // SET again replaces the value
            alter(admin, res, op("retention.ms", "7200000", OpType.SET));
            expected.put("retention.ms", "7200000");
            expectExactly(admin, res, expected, defaults, "after a second SET of retention.ms");

            // APPEND to a list
            alter(admin, res, op("cleanup.policy", "compact", OpType.APPEND));
            expected.put("cleanup.policy", "delete,compact");
            expectExactly(admin, res, expected, defaults, "after APPEND cleanup.policy compact");

            // SUBTRACT from a list
            alter(admin, res, op("cleanup.policy", "delete", OpType.SUBTRACT));
            expected.put("cleanup.policy", "compact");
            expectExactly(admin, res, expected, defaults, "after SUBTRACT cleanup.policy delete");

            // DELETE: back to the default value and source
            alter(admin, res, op("max.message.bytes", null, OpType.DELETE));
            expected.remove("max.message.bytes");
            expectExactly(admin, res, expected, defaults, "after DELETE max.message.bytes");
            log(NAME, "SET/APPEND/SUBTRACT/DELETE read back exactly: " + expected);

            // validateOnly: accepted, nothing changes
            admin.incrementalAlterConfigs(Map.of(res, List.of(op("retention.ms", "5", OpType.SET),
                    op("segment.bytes", "1048576", OpType.SET))), new AlterConfigsOptions().validateOnly(true)).all().get();
            expectExactly(admin, res, expected, defaults, "after a validateOnly change");

            // invalid changes fail and change nothing (also not the valid op in the same request)
            expectInvalid(admin, res, "SET retention.ms=not-a-number", op("retention.ms", "not-a-number", OpType.SET));
            expectInvalid(admin, res, "SET max.message.bytes=-5", op("max.message.bytes", "-5", OpType.SET));
            expectInvalid(admin, res, "SET cleanup.policy=shred", op("cleanup.policy", "shred", OpType.SET));
            expectInvalid(admin, res, "SET of an unknown key", op("no.such.topic.config", "1", OpType.SET));
            expectInvalid(admin, res, "APPEND to retention.ms (not a list)", op("retention.ms", "1", OpType.APPEND));
            expectInvalid(admin, res, "a valid SET together with an invalid one",
                    op("retention.ms", "1234", OpType.SET), op("segment.ms", "soon", OpType.SET));
            expectExactly(admin, res, expected, defaults, "after the rejected changes");

            brokerLayers(admin, res, expected, defaults);

            // an unknown topic
            ConfigResource missing = new ConfigResource(ConfigResource.Type.TOPIC, topic + "-missing");
            try {
                alter(admin, missing, op("retention.ms", "1000", OpType.SET));
                throw new Mismatch("incrementalAlterConfigs on an unknown topic was accepted");
            } catch (ExecutionException e) {
                check(e.getCause() instanceof org.apache.kafka.common.errors.UnknownTopicOrPartitionException,
                        "incrementalAlterConfigs on an unknown topic failed with " + e.getCause() + "; expected UnknownTopicOrPartitionException");
            }
            admin.deleteTopics(List.of(topic)).all().get();
        }
    }

    /**
     * Broker resources. Static keys (log.dirs, num.partitions) are refused with
     * InvalidConfigurationException. The log defaults (broker synonyms of topic configs) are
     * dynamic: per broker (resource name = node id) and cluster-wide (resource name ""), and a
     * topic without an override inherits them with source DYNAMIC_BROKER_CONFIG /
     * DYNAMIC_DEFAULT_BROKER_CONFIG; a topic override still wins. Harmless values are used
     * (one more millisecond than the defaults) and every change is deleted again in finally,
     * since other scenarios share the broker.
     */
    static void brokerLayers(Admin admin, ConfigResource topicRes, Map<String, String> topicOverrides, Map<String, String> defaults) throws Exception {
        String nodeId = Integer.toString(admin.describeCluster().nodes().get().iterator().next().id());
        ConfigResource broker = new ConfigResource(ConfigResource.Type.BROKER, nodeId);
        ConfigResource cluster = new ConfigResource(ConfigResource.Type.BROKER, "");
        Map<String, String> before = entries(describe(admin, broker));
        for (String key : List.of("log.dirs", "num.partitions")) {
            check(before.containsKey(key), "describeConfigs(broker " + nodeId + ") has no " + key);
            String v = key.equals("log.dirs") ? "/tmp/elsewhere" : "7";
            expectInvalid(admin, broker, "SET static broker config " + key, op(key, v, OpType.SET));
            checkEq(before.get(key), entries(describe(admin, broker)).get(key), "broker " + key + " after the refused change");
        }
        expectInvalid(admin, broker, "SET unknown broker config", op("no.such.broker.config", "1", OpType.SET));
        expectInvalid(admin, broker, "SET broker log.retention.ms=abc", op("log.retention.ms", "abc", OpType.SET));

        String deleteRetention = Long.toString(Long.parseLong(defaults.get("delete.retention.ms")) + 1);
        String deleteRetentionCluster = Long.toString(Long.parseLong(defaults.get("delete.retention.ms")) + 2);
        String retention = Long.toString(Long.parseLong(defaults.get("retention.ms")) + 1);
        try {
            // cluster-wide default first
            alter(admin, cluster, op("log.cleaner.delete.retention.ms", deleteRetentionCluster, OpType.SET));
            ConfigEntry e = describe(admin, broker).get("log.cleaner.delete.retention.ms");
            checkEq(deleteRetentionCluster, e.value(), "broker log.cleaner.delete.retention.ms after a cluster-default SET");
            checkEq(ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG, e.source(), "source of broker log.cleaner.delete.retention.ms");
            expectExactly(admin, topicRes, topicOverrides, defaults,
                    Map.of("delete.retention.ms", Map.entry(ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG, deleteRetentionCluster)),
                    "after SET of the cluster-default log.cleaner.delete.retention.ms");
            // per broker wins over the cluster default; a topic override wins over both
            alter(admin, broker, op("log.cleaner.delete.retention.ms", deleteRetention, OpType.SET),
                    op("log.retention.ms", retention, OpType.SET));
            e = describe(admin, broker).get("log.cleaner.delete.retention.ms");
            checkEq(deleteRetention, e.value(), "broker log.cleaner.delete.retention.ms after a per-broker SET");
            checkEq(ConfigSource.DYNAMIC_BROKER_CONFIG, e.source(), "source of broker log.cleaner.delete.retention.ms (per broker)");
            Map<String, Map.Entry<ConfigSource, String>> inherited = new TreeMap<>();
            inherited.put("delete.retention.ms", Map.entry(ConfigSource.DYNAMIC_BROKER_CONFIG, deleteRetention));
            if (!topicOverrides.containsKey("retention.ms")) {
                inherited.put("retention.ms", Map.entry(ConfigSource.DYNAMIC_BROKER_CONFIG, retention));
            }
            expectExactly(admin, topicRes, topicOverrides, defaults, inherited, "after per-broker SETs");
            log(NAME, "dynamic broker layers: cluster default, per broker and topic override resolve in that order");
        } finally {
            alter(admin, broker, op("log.cleaner.delete.retention.ms", null, OpType.DELETE), op("log.retention.ms", null, OpType.DELETE));
            alter(admin, cluster, op("log.cleaner.delete.retention.ms", null, OpType.DELETE));
        }
        checkEq(before, entries(describe(admin, broker)), "broker configs after deleting the dynamic changes");
        expectExactly(admin, topicRes, topicOverrides, defaults, "after deleting the dynamic broker configs");
    }

    // --- restart/run.sh modes -------------------------------------------------------------

    static void set(String bootstrap, Path state) throws Exception {
        String topic = uniqueTopic("java-configs-durable");
        try (Admin admin = admin(bootstrap)) {
            admin.createTopics(List.of(new NewTopic(topic, 2, (short) 1))).all().get();
            ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, topic);
            Map<String, String> defaults = defaults(admin, res);
            alter(admin, res, op("retention.ms", "86400123", OpType.SET), op("max.message.bytes", "2000000", OpType.SET),
                    op("cleanup.policy", "delete", OpType.SET), op("segment.ms", "3600000", OpType.SET));
            alter(admin, res, op("cleanup.policy", "compact", OpType.APPEND));
            Map<String, String> expected = new TreeMap<>(Map.of("retention.ms", "86400123", "max.message.bytes", "2000000",
                    "cleanup.policy", "delete,compact", "segment.ms", "3600000"));
            // dynamic broker layers too: per broker and cluster-wide (harmless values)
            String deleteRetention = Long.toString(Long.parseLong(defaults.get("delete.retention.ms")) + 5);
            alter(admin, brokerRes(admin), op("log.cleaner.delete.retention.ms", deleteRetention, OpType.SET));
            alter(admin, new ConfigResource(ConfigResource.Type.BROKER, ""), op("log.cleaner.min.compaction.lag.ms", "7", OpType.SET));
            Map<String, Map.Entry<ConfigSource, String>> inherited = new TreeMap<>();
            inherited.put("delete.retention.ms", Map.entry(ConfigSource.DYNAMIC_BROKER_CONFIG, deleteRetention));
            inherited.put("min.compaction.lag.ms", Map.entry(ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG, "7"));
            expectExactly(admin, res, expected, defaults, inherited, "before the restart");
            write(state, topic, expected, defaults, inherited);
            log(NAME, "set " + expected + " on " + topic + ", broker layers " + inherited);
        }
    }

    static ConfigResource brokerRes(Admin admin) throws Exception {
        return new ConfigResource(ConfigResource.Type.BROKER,
                Integer.toString(admin.describeCluster().nodes().get().iterator().next().id()));
    }

    static void verify(String bootstrap, Path state, boolean next) throws Exception {
        List<String> lines = Files.readAllLines(state);
        String topic = lines.get(0);
        Map<String, String> expected = parse(lines.get(1));
        Map<String, String> defaults = parse(lines.get(2));
        Map<String, Map.Entry<ConfigSource, String>> inherited = new TreeMap<>();
        for (var e : parse(lines.get(3)).entrySet()) {
            int i = e.getValue().indexOf(':');
            inherited.put(e.getKey(), Map.entry(ConfigSource.valueOf(e.getValue().substring(0, i)), e.getValue().substring(i + 1)));
        }
        try (Admin admin = admin(bootstrap)) {
            ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, topic);
            expectExactly(admin, res, expected, defaults, inherited, "after the restart");
            log(NAME, "overrides of " + topic + " after the restart: " + expected + ", broker layers " + inherited);
            if (next) {
                alter(admin, res, op("max.message.bytes", null, OpType.DELETE), op("retention.ms", "172800000", OpType.SET),
                        op("cleanup.policy", "delete", OpType.SUBTRACT));
                expected.remove("max.message.bytes");
                expected.put("retention.ms", "172800000");
                expected.put("cleanup.policy", "compact");
                alter(admin, brokerRes(admin), op("log.cleaner.delete.retention.ms", null, OpType.DELETE));
                alter(admin, new ConfigResource(ConfigResource.Type.BROKER, ""), op("log.cleaner.min.compaction.lag.ms", null, OpType.DELETE));
                inherited.clear();
                expectExactly(admin, res, expected, defaults, inherited, "after the second set of changes");
                write(state, topic, expected, defaults, inherited);
                log(NAME, "changed to " + expected + ", broker layers deleted");
            }
        }
    }

    static void write(Path state, String topic, Map<String, String> expected, Map<String, String> defaults,
                      Map<String, Map.Entry<ConfigSource, String>> inherited) throws Exception {
        Map<String, String> inh = new TreeMap<>();
        for (var e : inherited.entrySet()) inh.put(e.getKey(), e.getValue().getKey().name() + ":" + e.getValue().getValue());
        Files.write(state, List.of(topic, format(expected), format(defaults), format(inh)));
    }

    // values never contain ';' or '\n' here ("delete,compact" etc.)
    static String format(Map<String, String> m) {
        StringBuilder b = new StringBuilder();
        for (var e : m.entrySet()) b.append(e.getKey()).append('=').append(e.getValue() == null ? "\u0000" : e.getValue()).append(';');
        return b.toString();
    }

    static Map<String, String> parse(String s) {
        Map<String, String> m = new TreeMap<>();
        for (String kv : s.split(";")) {
            if (kv.isEmpty()) continue;
            int i = kv.indexOf('=');
            String v = kv.substring(i + 1);
            m.put(kv.substring(0, i), v.equals("\u0000") ? null : v);
        }
        return m;
    }

}
