// node:test suite against Odradek's control API with KafkaJS: each test makes a cluster of its
// own (POST /v1/clusters) and the tests run concurrently (`concurrency` below) against one
// broker process. Needs ODRADEK_CONTROL=HOST:PORT and kafkajs on NODE_PATH.
'use strict';
const { describe, it, after } = require('node:test');
const assert = require('node:assert/strict');
const { Kafka, logLevel } = require('kafkajs');

const CONTROL = process.env.ODRADEK_CONTROL;
if (!CONTROL) throw new Error('ODRADEK_CONTROL is not set');

async function call(method, path, body) {
  const r = await fetch(`http://${CONTROL}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

const made = [];
async function newCluster(opts = {}) {
  const r = await call('POST', '/v1/clusters', opts);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  made.push(r.body.id);
  const c = r.body;
  c.kafka = new Kafka({ clientId: `js-${c.id}`, brokers: [c.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 50 } });
  c.post = async (route, b, expect = 200) => {
    const res = await call('POST', `/v1/clusters/${c.id}${route}`, b);
    assert.equal(res.status, expect, `${route} ${JSON.stringify(b)} -> ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  return c;
}

async function createTopic(c, topic, configEntries = []) {
  const admin = c.kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, configEntries }] });
  } finally {
    await admin.disconnect();
  }
}

async function produce(c, topic, pairs) {
  const p = c.kafka.producer();
  await p.connect();
  try {
    for (const [key, value] of pairs) await p.send({ topic, messages: [{ key, value, partition: 0 }] });
  } finally {
    await p.disconnect();
  }
}

async function readAll(c, topic, count) {
  const consumer = c.kafka.consumer({ groupId: `reader-${Date.now()}-${Math.random()}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  const out = [];
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`read ${out.length} of ${count}`)), 20000);
    consumer.run({
      eachMessage: async ({ message }) => {
        out.push([message.key.toString(), message.value.toString()]);
        if (out.length >= count) { clearTimeout(timer); resolve(); }
      },
    });
  });
  await consumer.disconnect();
  return out;
}

describe('odradek clusters', { concurrency: 4 }, () => {
  after(async () => {
    for (const id of made) await call('DELETE', `/v1/clusters/${id}`);
  });

  it('keeps each cluster to itself', async () => {
    const a = await newCluster();
    const b = await newCluster();
    await createTopic(a, 'orders');
    await produce(a, 'orders', [['k', 'only-in-a']]);
    assert.deepEqual(await readAll(a, 'orders', 1), [['k', 'only-in-a']]);
    const w = await call('POST', `/v1/clusters/${b.id}/wait`, { for: 'topic', topic: 'orders', timeout_ms: 100 });
    assert.equal(w.status, 408);
    assert.equal(w.body.seen.exists, false);
  });

  it('compacts on demand', async () => {
    const c = await newCluster();
    await createTopic(c, 'table', [{ name: 'cleanup.policy', value: 'compact' }]);
    const pairs = [];
    for (let r = 0; r < 3; r++) for (let k = 0; k < 4; k++) pairs.push([`k${k}`, `v${r}`]);
    await produce(c, 'table', pairs);
    const report = await c.post('/maintenance/compaction', { topic: 'table' });
    assert.equal(report.records_removed, 8);
    assert.deepEqual(await readAll(c, 'table', 4), [0, 1, 2, 3].map((k) => [`k${k}`, 'v2']));
  });

  it('waits for a group and expires it by moving the clock', async () => {
    const c = await newCluster({ clock: 'manual' });
    await createTopic(c, 'ticks');
    const consumer = c.kafka.consumer({ groupId: 'js-group', sessionTimeout: 30000, heartbeatInterval: 3000 });
    await consumer.connect();
    await consumer.subscribe({ topic: 'ticks' });
    await consumer.run({ eachMessage: async () => {} });
    const w = await c.post('/wait', { for: 'group', group: 'js-group', state: 'Stable', members: 1, timeout_ms: 30000 });
    assert.equal(w.ok, true);
    const t0 = Date.now();
    await c.post('/clock/advance', { ms: 31000 });
    const gone = await c.post('/wait', { for: 'group', group: 'js-group', members: 0, timeout_ms: 1000 });
    assert.equal(gone.ok, true);
    assert.ok(Date.now() - t0 < 1000, `${Date.now() - t0} ms`);
    await consumer.disconnect();
  });

  it('retries through an injected NOT_LEADER_OR_FOLLOWER', async () => {
    const c = await newCluster();
    await createTopic(c, 'f');
    const rule = await c.post('/faults', { match: { api_key: 0, topic: 'f' }, action: { type: 'error', code: 6 }, times: 2 }, 201);
    await produce(c, 'f', [['k', 'through']]);
    const seen = await call('GET', `/v1/clusters/${c.id}/faults/${rule.id}`);
    assert.equal(seen.body.fired, 2);
    assert.deepEqual(await readAll(c, 'f', 1), [['k', 'through']]);
  });
});
