package compat;

import java.io.FileInputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AccessControlEntryFilter;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.errors.TopicAuthorizationException;
import org.apache.kafka.common.errors.TransactionalIdAuthorizationException;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourcePatternFilter;
import org.apache.kafka.common.resource.ResourceType;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialDeletion;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.clients.admin.UserScramCredentialsDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.SaslAuthenticationException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

import static compat.Common.check;
import static compat.Common.checkEq;

/**
 * The Java client over the listeners `odradek --dev --secure` makes, with the configs it writes:
 * SASL_SSL with SCRAM-SHA-512 and PLAIN, mutual TLS, a wrong password, and SCRAM users made and
 * removed with Admin.alterUserScramCredentials.
 * ACLs (StandardAuthorizer, on under --dev --secure): bob is refused, granted, and refused again.
 *   args: SECURE_DIR SCENARIO   (scram | plain | mtls | wrong-password | scram-admin | acls)
 */
public final class SecureClients {
    static Properties load(String dir, String file) throws Exception {
        Properties p = new Properties();
        try (FileInputStream in = new FileInputStream(dir + "/" + file)) { p.load(in); }
        return p;
    }

    static Properties with(Properties base, String k, String v) {
        Properties p = new Properties();
        p.putAll(base);
        p.put(k, v);
        return p;
    }

    /** Creates the topic, produces n records (acks=all, idempotent), reads them back from the start. */
    static void roundTrip(Properties client, String topic, int n) throws Exception {
        try (Admin admin = Admin.create(client)) {
            admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get();
        }
        Properties pp = with(client, ProducerConfig.ACKS_CONFIG, "all");
        pp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        pp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        try (KafkaProducer<byte[], byte[]> p = new KafkaProducer<>(pp)) {
            for (int i = 0; i < n; i++) {
                p.send(new ProducerRecord<>(topic, 0, ("k" + i).getBytes(StandardCharsets.UTF_8), (topic + " value " + i).getBytes(StandardCharsets.UTF_8))).get();
            }
        }
        Properties cp = with(client, ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        cp.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        List<String> got = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(cp)) {
            TopicPartition tp = new TopicPartition(topic, 0);
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            long deadline = System.currentTimeMillis() + 20_000;
            while (got.size() < n && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(500))) {
                    got.add(new String(r.value(), StandardCharsets.UTF_8));
                }
            }
        }
        checkEq(n, got.size(), "records read back from " + topic);
        for (int i = 0; i < n; i++) checkEq(topic + " value " + i, got.get(i), "record " + i);
    }

    static void refused(Properties client, String what) throws Exception {
        Properties p = with(client, "request.timeout.ms", "5000");
        p.put("default.api.timeout.ms", "8000");
        try (Admin admin = Admin.create(p)) {
            admin.describeCluster().clusterId().get();
            throw new Common.Mismatch(what + ": the broker served a client that did not authenticate");
        } catch (ExecutionException e) {
            check(e.getCause() instanceof SaslAuthenticationException, what + ": expected SaslAuthenticationException, got " + e.getCause());
        }
    }

    static Properties as(Properties base, String user, String password) {
        Properties p = with(base, "sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"" + user + "\" password=\"" + password + "\";");
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put("max.block.ms", "8000");
        p.put("delivery.timeout.ms", "8000");
        p.put("request.timeout.ms", "5000");
        return p;
    }

    static void expectRefused(Runnable r, Class<? extends Exception> kind, String what) {
        try {
            r.run();
        } catch (RuntimeException e) {
            Throwable c = e;
            while (c != null && !kind.isInstance(c)) c = c.getCause();
            check(c != null, what + ": expected " + kind.getSimpleName() + ", got " + e);
            return;
        }
        throw new Common.Mismatch(what + ": was allowed");
    }

    static void send(Properties p, String topic, String value) {
        try (KafkaProducer<byte[], byte[]> pr = new KafkaProducer<>(p)) {
            pr.send(new ProducerRecord<>(topic, 0, null, value.getBytes(StandardCharsets.UTF_8))).get();
        } catch (ExecutionException e) {
            throw new RuntimeException(e.getCause());
        } catch (InterruptedException e) {
            throw new RuntimeException(e);
        }
    }

    static void acls(String dir) throws Exception {
        Properties base = load(dir, "client-scram.properties");
        Properties admin = as(base, "admin", "admin-secret");
        Properties bob = as(base, "bob", "bob-secret");
        String topic = "acl-java";
        try (Admin a = Admin.create(admin)) {
            a.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get();
        }
        expectRefused(() -> send(bob, topic, "no"), TopicAuthorizationException.class, "bob without ACLs");
        ResourcePattern t = new ResourcePattern(ResourceType.TOPIC, topic, PatternType.LITERAL);
        List<AclBinding> grants = List.of(
                new AclBinding(t, new AccessControlEntry("User:bob", "*", AclOperation.WRITE, AclPermissionType.ALLOW)),
                new AclBinding(t, new AccessControlEntry("User:bob", "*", AclOperation.READ, AclPermissionType.ALLOW)),
                new AclBinding(new ResourcePattern(ResourceType.GROUP, "bob-", PatternType.PREFIXED), new AccessControlEntry("User:bob", "*", AclOperation.READ, AclPermissionType.ALLOW)),
                new AclBinding(new ResourcePattern(ResourceType.TRANSACTIONAL_ID, "bob-tx", PatternType.LITERAL), new AccessControlEntry("User:bob", "*", AclOperation.WRITE, AclPermissionType.ALLOW)));
        AclBindingFilter bobs = new AclBindingFilter(ResourcePatternFilter.ANY, new AccessControlEntryFilter("User:bob", null, AclOperation.ANY, AclPermissionType.ANY));
        try (Admin a = Admin.create(admin)) {
            a.createAcls(grants).all().get();
            checkEq(4, a.describeAcls(bobs).values().get().size(), "bob's ACLs described");
        }
        for (int i = 0; i < 5; i++) send(bob, topic, "bob " + i);
        Properties cp = with(bob, ConsumerConfig.GROUP_ID_CONFIG, "bob-group");
        cp.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        List<String> got = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(cp)) {
            c.subscribe(List.of(topic));
            long deadline = System.currentTimeMillis() + 30_000;
            while (got.size() < 5 && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(500))) got.add(new String(r.value(), StandardCharsets.UTF_8));
            }
            c.commitSync();
        }
        checkEq(List.of("bob 0", "bob 1", "bob 2", "bob 3", "bob 4"), got, "bob reads in his group");
        Properties other = with(bob, ProducerConfig.TRANSACTIONAL_ID_CONFIG, "someone-elses-tx");
        expectRefused(() -> { try (KafkaProducer<byte[], byte[]> p = new KafkaProducer<>(other)) { p.initTransactions(); } },
                TransactionalIdAuthorizationException.class, "a transactional id bob may not use");
        try (KafkaProducer<byte[], byte[]> p = new KafkaProducer<>(with(bob, ProducerConfig.TRANSACTIONAL_ID_CONFIG, "bob-tx"))) {
            p.initTransactions();
            p.beginTransaction();
            p.send(new ProducerRecord<>(topic, 0, null, "in a transaction".getBytes(StandardCharsets.UTF_8)));
            p.commitTransaction();
        }
        try (Admin a = Admin.create(admin)) {
            checkEq(4, a.deleteAcls(List.of(bobs)).all().get().size(), "bob's ACLs deleted");
        }
        expectRefused(() -> send(bob, topic, "again"), TopicAuthorizationException.class, "bob after his ACLs were deleted");
    }

    public static void main(String[] args) throws Exception {
        String dir = args[0];
        switch (args[1]) {
            case "scram" -> roundTrip(load(dir, "client-scram.properties"), "java-scram", 20);
            case "plain" -> roundTrip(load(dir, "client-plain.properties"), "java-plain", 20);
            case "mtls" -> roundTrip(load(dir, "client-mtls.properties"), "java-mtls", 20);
            case "wrong-password" -> {
                Properties p = load(dir, "client-scram.properties");
                refused(with(p, "sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"admin\" password=\"not-it\";"), "SCRAM, wrong password");
                refused(with(load(dir, "client-plain.properties"), "sasl.jaas.config", "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"alice\" password=\"guess\";"), "PLAIN, wrong password");
            }
            case "scram-admin" -> {
                Properties admin = load(dir, "client-scram.properties");
                try (Admin a = Admin.create(admin)) {
                    a.alterUserScramCredentials(List.of(new UserScramCredentialUpsertion("carol", new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 8192), "carol-secret"))).all().get();
                    Map<String, UserScramCredentialsDescription> d = a.describeUserScramCredentials(List.of("carol")).all().get();
                    checkEq(ScramMechanism.SCRAM_SHA_256, d.get("carol").credentialInfos().get(0).mechanism(), "carol's mechanism");
                    checkEq(8192, d.get("carol").credentialInfos().get(0).iterations(), "carol's iterations");
                }
                try (Admin a = Admin.create(admin)) {
                    a.createAcls(List.of(new AclBinding(new ResourcePattern(ResourceType.TOPIC, "java-carol", PatternType.LITERAL),
                            new AccessControlEntry("User:carol", "*", AclOperation.ALL, AclPermissionType.ALLOW)))).all().get();
                }
                Properties carol = with(admin, "sasl.mechanism", "SCRAM-SHA-256");
                carol.put("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"carol\" password=\"carol-secret\";");
                roundTrip(carol, "java-carol", 5);
                try (Admin a = Admin.create(admin)) {
                    a.alterUserScramCredentials(List.of(new UserScramCredentialDeletion("carol", ScramMechanism.SCRAM_SHA_256))).all().get();
                }
                refused(carol, "a deleted SCRAM user");
            }
            case "acls" -> acls(dir);
            case "oauth" -> roundTrip(load(dir, "client-oauth.properties"), "java-oauth", 20);
            case "reauth" -> {
                // The broker runs with connections.max.reauth.ms=2000: one producer connection
                // lives for 8 s, re-authenticating (KIP-368) as it goes; every record lands.
                Properties p = with(load(dir, "client-scram.properties"), ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
                p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
                String topic = "java-reauth";
                try (Admin a = Admin.create(load(dir, "client-scram.properties"))) {
                    a.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get();
                }
                int n = 0;
                try (KafkaProducer<byte[], byte[]> pr = new KafkaProducer<>(p)) {
                    long end = System.currentTimeMillis() + 8_000;
                    while (System.currentTimeMillis() < end) {
                        pr.send(new ProducerRecord<>(topic, 0, null, ("r" + n).getBytes(StandardCharsets.UTF_8))).get();
                        n++;
                        Thread.sleep(100);
                    }
                    double reauths = pr.metrics().entrySet().stream()
                        .filter(e -> e.getKey().name().equals("successful-reauthentication-total"))
                        .mapToDouble(e -> ((Number) e.getValue().metricValue()).doubleValue()).sum();
                    check(reauths >= 2, "re-authentications during 8 s with a 2 s session: " + reauths);
                    System.out.println("[java/secure] " + n + " records, " + reauths + " re-authentications");
                }
            }
            default -> throw new IllegalArgumentException("unknown scenario " + args[1]);
        }
        System.out.println("[java/secure] " + args[1] + " PASS");
    }
}
