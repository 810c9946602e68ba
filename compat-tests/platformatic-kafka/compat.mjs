// Odradek compat scenarios driven by @platformatic/kafka (pure JavaScript client, 1.x).
//
// usage: PLATFORMATIC_KAFKA=<path of the package's dist/index.js> node compat.mjs BOOTSTRAP [scenario ...]
// Prints "PASS platformatic-kafka/<name>" / "FAIL platformatic-kafka/<name>: reason" per scenario,
// appends the verdicts to $COMPAT_RESULTS when set, exits 1 if any scenario failed.
// The client always consumes through a consumer group (classic protocol); scenarios that only
// read use a fresh group each, autocommit off. Every scenario has a time limit (SCENARIO_TIMEOUT_MS).
// The API versions the client sent (from its diagnostics channel) are printed at the end.

import crypto from 'node:crypto'
import diagnostics from 'node:diagnostics_channel'
import fs from 'node:fs'

// COMPAT_DEBUG=1: the client's own debug logs (the `debug` package reads DEBUG when loaded)
if (process.env.COMPAT_DEBUG === '1') process.env.DEBUG = 'plt:kafka:*'
const K = await import(process.env.PLATFORMATIC_KAFKA)
const {
  Admin, Consumer, Producer, stringSerializers, stringDeserializers, compatibilityPartitioner,
  MessagesStreamModes, MessagesStreamFallbackModes, ProduceAcks, FetchIsolationLevels,
  ConfigResourceTypes, ConfigSources, IncrementalAlterConfigOperationTypes, ListOffsetTimestamps,
  compressionsAlgorithms, protocolAPIsById
} = K

const LABEL = 'platformatic-kafka'
const BOOTSTRAP = process.argv[2]
const SCENARIO_TIMEOUT_MS = 60000

// Kafka error codes the scenarios expect
const UNKNOWN_TOPIC_OR_PARTITION = 3
const TOPIC_ALREADY_EXISTS = 36
const INVALID_PARTITIONS = 37
const INVALID_CONFIG = 40

class Mismatch extends Error {}

const show = v => JSON.stringify(v, (_k, x) =>
  typeof x === 'bigint' ? `${x}n` : x instanceof Map ? Object.fromEntries(x) : x instanceof Set ? [...x] : x)

function check (ok, what) {
  if (!ok) throw new Mismatch(typeof what === 'function' ? what() : what)
}

function checkEq (expected, actual, what) {
  const e = show(expected)
  const a = show(actual)
  if (e !== a) throw new Mismatch(`${what}: expected ${e} but got ${a}`)
}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))
const uniq = prefix => `${prefix}-${crypto.randomBytes(4).toString('hex')}`

/** Waits until pred() (sync or async) holds, polling every 50 ms, or fails with what(). */
async function waitFor (pred, seconds, what) {
  const deadline = Date.now() + seconds * 1000
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Mismatch(what())
    await sleep(50)
  }
}

// API versions the client sent, from the connection diagnostics channel
const SENT = new Map()
diagnostics.subscribe('tracing:plt:kafka:connections:api:start', ctx => {
  const name = `${protocolAPIsById[ctx.apiKey] ?? ctx.apiKey}v${ctx.apiVersion}`
  SENT.set(name, (SENT.get(name) ?? 0) + 1)
})
// and the error codes the broker answered (including the ones the client retried by itself)
const ANSWERED = new Map()
diagnostics.subscribe('tracing:plt:kafka:connections:api:error', ctx => {
  const ids = []
  const walk = e => {
    if (!e || typeof e !== 'object') return
    if (e.apiId) ids.push(e.apiId)
    for (const x of e.errors ?? []) walk(x)
  }
  walk(ctx.error)
  for (const id of ids.length ? ids : [ctx.error?.code ?? 'error']) {
    const name = `${protocolAPIsById[ctx.apiKey] ?? ctx.apiKey}v${ctx.apiVersion}:${id}`
    ANSWERED.set(name, (ANSWERED.get(name) ?? 0) + 1)
  }
})

const base = clientId => ({
  clientId,
  bootstrapBrokers: [BOOTSTRAP],
  connectTimeout: 5000,
  requestTimeout: 15000,
  // a fresh Kafka answers the first group's JoinGroup with NOT_COORDINATOR for a few seconds
  // (while it creates __consumer_offsets): 5 retries of 200 ms were not enough
  retries: 20,
  retryDelay: 250
})

// the admin client retries UNKNOWN_TOPIC_OR_PARTITION too, which some checks expect: fewer retries
const admin = () => new Admin({ ...base('plt-compat-admin'), retries: 5, retryDelay: 200 })

function producer (extra = {}) {
  return new Producer({
    ...base('plt-compat-producer'),
    serializers: stringSerializers,
    acks: ProduceAcks.ALL,
    partitioner: compatibilityPartitioner,
    ...extra
  })
}

function consumer (groupId, extra = {}) {
  return new Consumer({
    ...base(extra.clientId ?? 'plt-compat-consumer'),
    groupId,
    deserializers: stringDeserializers,
    autocommit: false,
    maxWaitTime: 300,
    sessionTimeout: 10000,
    rebalanceTimeout: 20000,
    heartbeatInterval: 500,
    ...extra
  })
}

/** Collects a stream's messages into an array (read while the stream lives). */
function collector (stream) {
  const out = []
  const errors = []
  stream.on('data', m => out.push(m))
  stream.on('error', e => errors.push(e))
  out.errors = errors
  return out
}

/** Reads a topic from the beginning with a fresh group; returns the messages once `n` arrived
 *  plus whatever came within a further `settleMs`. */
async function readAll (topic, n, { isolationLevel = FetchIsolationLevels.READ_COMMITTED, settleMs = 600, seconds = 20 } = {}) {
  const c = consumer(uniq('plt-reader'), { isolationLevel })
  try {
    const stream = await c.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST })
    const got = collector(stream)
    await waitFor(() => got.length >= n || got.errors.length, seconds,
      () => `read ${got.length} of ${n} records of ${topic} within ${seconds} s`)
    await sleep(settleMs)
    check(!got.errors.length, () => `stream error: ${got.errors[0]}`)
    await stream.close()
    return got.slice()
  } finally {
    await c.close(true)
  }
}

async function createTopic (a, topic, partitions, configs = {}) {
  const created = await a.createTopics({
    topics: [topic],
    partitions,
    replicas: 1,
    configs: Object.entries(configs).map(([name, value]) => ({ name, value }))
  })
  checkEq([[topic, partitions, 1]], created.map(t => [t.name, t.partitions, t.replicas]), `createTopics(${topic})`)
  // Apache Kafka answers CreateTopics before every partition is served (a Produce right after it
  // can get NOT_LEADER_OR_FOLLOWER); wait until ListOffsets answers for all of them
  const all = [...Array(partitions).keys()].map(partitionIndex => ({ partitionIndex, timestamp: ListOffsetTimestamps.LATEST }))
  await waitFor(async () => {
    try {
      const r = await a.listOffsets({ topics: [{ name: topic, partitions: all }] })
      return r[0].partitions.length === partitions
    } catch {
      return false
    }
  }, 10, () => `ListOffsets on the partitions of ${topic} still failing 10 s after CreateTopics`)
  return created[0]
}

async function withAdmin (fn) {
  const a = admin()
  try {
    return await fn(a)
  } finally {
    await a.close()
  }
}

/** Kafka error codes carried by a @platformatic/kafka error (AggregateErrors nest the protocol
 *  errors, each with its apiCode). */
function apiCodes (e, out = []) {
  if (!e || typeof e !== 'object') return out
  if (e.apiCode !== undefined) out.push(e.apiCode)
  for (const x of e.errors ?? []) apiCodes(x, out)
  return out
}

async function expectApiError (promise, code, what) {
  try {
    await promise
  } catch (e) {
    const codes = apiCodes(e)
    check(codes.length && codes.every(c => c === code), () => `${what}: expected error code ${code}, got ${show(codes)} (${e.message})`)
    return
  }
  throw new Mismatch(`${what}: succeeded, expected error code ${code}`)
}

const expectedPartition = (key, partitions) => compatibilityPartitioner(null, Buffer.from(key)) % partitions

/** Sends per records to each partition (explicit partitions), value PREFIX-P-I at offset I. */
async function produceEach (topic, partitions, start, per, prefix) {
  const p = producer()
  const values = []
  try {
    const messages = []
    for (let i = start; i < start + per; i++) {
      for (let part = 0; part < partitions; part++) {
        const value = `${prefix}-${part}-${i}`
        values.push(value)
        messages.push({ topic, key: `k${i}`, value, partition: part })
      }
    }
    const res = await p.send({ messages })
    const bases = Object.fromEntries(res.offsets.map(o => [o.partition, o.offset]))
    for (let part = 0; part < partitions; part++) {
      checkEq(BigInt(start), bases[part], `base offset acked for ${prefix} on partition ${part}`)
    }
  } finally {
    await p.close()
  }
  return values
}

const pos = m => `${m.partition}@${m.offset}`

// --------------------------------------------------------------------------- produce / consume

/** Keyed records with headers (and a few without a value) to 3 partitions in several send()
 *  calls; each call's acked base offsets, then every record read back field by field. */
async function produceConsume (idempotent) {
  const parts = 3
  const n = 240
  const topic = uniq(idempotent ? 'plt-pci' : 'plt-pc')
  await withAdmin(a => createTopic(a, topic, parts))
  const p = producer(idempotent ? { idempotent: true } : {})
  const expected = [[], [], []] // per partition, in log order
  const baseTs = BigInt(Date.now() - 60000)
  let info = ''
  try {
    for (let chunk = 0; chunk < n / 40; chunk++) {
      const messages = []
      for (let i = chunk * 40; i < (chunk + 1) * 40; i++) {
        const key = `key-${i}`
        const m = {
          topic,
          key,
          value: i % 37 === 3 ? undefined : `value-${i}-${'x'.repeat(i % 30)}`,
          headers: { idx: String(i), src: 'platformatic', empty: '' },
          timestamp: baseTs + BigInt(i * 7)
        }
        messages.push(m)
      }
      const before = expected.map(l => l.length)
      for (const m of messages) expected[expectedPartition(m.key, parts)].push(m)
      const res = await p.send({ messages })
      const acked = Object.fromEntries(res.offsets.map(o => [o.partition, o.offset]))
      const want = {}
      for (let part = 0; part < parts; part++) {
        if (expected[part].length > before[part]) want[part] = BigInt(before[part])
      }
      checkEq(want, acked, `base offsets acked for send() #${chunk}`)
    }
    if (idempotent) {
      check(typeof p.producerId === 'bigint' && p.producerId >= 0n, () => `producerId ${show(p.producerId)}`)
      checkEq(0, p.producerEpoch, 'producerEpoch of an idempotent producer')
      const other = producer({ idempotent: true })
      try {
        const got = await other.initIdempotentProducer({})
        check(got.producerId !== p.producerId, () => `two idempotent producers got the same producerId ${got.producerId}`)
        checkEq(0, got.producerEpoch, 'producerEpoch from initIdempotentProducer')
      } finally {
        await other.close()
      }
      info = `producerId ${p.producerId}, `
    }
  } finally {
    await p.close()
  }
  check(expected.filter(l => l.length).length > 1, 'all keys hashed to one partition')

  const got = await readAll(topic, n)
  checkEq(n, got.length, 'records consumed')
  for (let part = 0; part < parts; part++) {
    const mine = got.filter(m => m.partition === part)
    checkEq(expected[part].map((_m, i) => BigInt(i)), mine.map(m => m.offset), `offsets read on partition ${part}`)
    mine.forEach((m, i) => {
      const e = expected[part][i]
      checkEq(e.key, m.key, `key at ${pos(m)}`)
      checkEq(e.value, m.value, `value at ${pos(m)}`)
      checkEq(Object.entries(e.headers), [...m.headers.entries()], `headers at ${pos(m)}`)
      checkEq(e.timestamp, m.timestamp, `timestamp at ${pos(m)}`)
    })
  }
  const c = consumer(uniq('plt-offs'))
  try {
    const latest = await c.listOffsets({ topics: [topic] })
    checkEq(expected.map(l => BigInt(l.length)), latest.get(topic), 'listOffsets (latest)')
    const earliest = await c.listOffsets({ topics: [topic], timestamp: ListOffsetTimestamps.EARLIEST })
    checkEq([0n, 0n, 0n], earliest.get(topic), 'listOffsets (earliest)')
  } finally {
    await c.close(true)
  }
  return `${info}${n} records, per partition ${show(expected.map(l => l.length))}`
}

/** gzip, snappy, lz4 (and zstd where the runtime has it) in several send() calls; dense offsets,
 *  values intact; a MANUAL-mode stream started in the middle of a compressed batch. */
async function compression () {
  const codecs = ['gzip', 'snappy', 'lz4', 'zstd'].filter(c => compressionsAlgorithms[c]?.available)
  const skipped = ['gzip', 'snappy', 'lz4', 'zstd'].filter(c => !codecs.includes(c))
  const per = 60
  const calls = 3
  for (const codec of codecs) {
    const topic = uniq(`plt-${codec}`)
    await withAdmin(a => createTopic(a, topic, 1))
    const p = producer({ compression: codec, idempotent: true })
    const value = i => `${codec}-${i}-${'z'.repeat(i % 50)}`
    try {
      for (let call = 0; call < calls; call++) {
        const messages = []
        for (let i = call * per; i < (call + 1) * per; i++) {
          messages.push({ topic, key: `k${i}`, value: value(i), partition: 0, headers: { codec } })
        }
        const res = await p.send({ messages })
        checkEq([[0, BigInt(call * per)]], res.offsets.map(o => [o.partition, o.offset]), `${codec}: base offset of send() #${call}`)
      }
    } finally {
      await p.close()
    }
    const total = per * calls
    const got = await readAll(topic, total)
    checkEq([...Array(total).keys()].map(BigInt), got.map(m => m.offset), `${codec}: offsets read`)
    got.forEach((m, i) => {
      checkEq([`k${i}`, value(i), [['codec', codec]]], [m.key, m.value, [...m.headers.entries()]], `${codec}: record ${i}`)
    })
    const c = consumer(uniq('plt-manual'))
    try {
      const stream = await c.consume({
        topics: [topic],
        mode: MessagesStreamModes.MANUAL,
        offsets: [{ topic, partition: 0, offset: 77n }]
      })
      const part = collector(stream)
      await waitFor(() => part.length >= total - 77, 15, () => `${codec}: read ${part.length} records from offset 77`)
      await stream.close()
      checkEq(77n, part[0].offset, `${codec}: first offset of a MANUAL stream at 77 (inside a compressed batch)`)
      checkEq(value(77), part[0].value, `${codec}: value at 77`)
    } finally {
      await c.close(true)
    }
  }
  return `${per * calls} records each: ${codecs.join(', ')}${skipped.length ? ` (not available here: ${skipped.join(', ')})` : ''}`
}

// --------------------------------------------------------------------------- groups

const assigned = c => (c.assignments ?? []).flatMap(a => a.partitions.map(p => `${a.topic}:${p}`)).sort()

/** Checks a record belongs to its reader and is not a duplicate; value PREFIX-P-OFFSET. */
function take (msgs, who, owned, readBy, prefix) {
  while (msgs.length) {
    const m = msgs.shift()
    if (owned) check(owned.includes(`${m.topic}:${m.partition}`), () => `${who} got ${pos(m)}, which it does not own (${owned})`)
    checkEq(`${prefix}-${m.partition}-${m.offset}`, m.value, `value at ${pos(m)}`)
    check(!readBy.has(m.value), () => `${m.value} delivered twice (to ${readBy.get(m.value)?.who} and ${who})`)
    readBy.set(m.value, { who, m })
  }
}

/** Commits offset+1 of the last record read on each partition (message.commit()). */
async function commitLast (readBy, who) {
  const last = new Map()
  for (const { who: w, m } of readBy.values()) {
    if (w !== who) continue
    const k = m.partition
    if (!last.has(k) || last.get(k).offset < m.offset) last.set(k, m)
  }
  for (const m of last.values()) await m.commit()
}

async function groupSplit () {
  const parts = 4
  const firstN = 30
  const secondN = 10
  const topic = uniq('plt-gsplit')
  const group = uniq('plt-gsplit-group')
  await withAdmin(a => createTopic(a, topic, parts))
  const all = [...Array(parts).keys()].map(p => `${topic}:${p}`)
  const c1 = consumer(group, { clientId: 'plt-gsplit-c1' })
  let c2 = consumer(group, { clientId: 'plt-gsplit-c2' })
  const opts = { topics: [topic], mode: MessagesStreamModes.COMMITTED, fallbackMode: MessagesStreamFallbackModes.EARLIEST }
  try {
    const s1 = await c1.consume(opts)
    const s2 = await c2.consume(opts)
    const q1 = collector(s1)
    const q2 = collector(s2)
    await waitFor(() => {
      const a1 = assigned(c1)
      const a2 = assigned(c2)
      return a1.length === 2 && a2.length === 2 && show([...a1, ...a2].sort()) === show(all)
    }, 30, () => `no 2+2 split within 30 s: c1=${assigned(c1)} c2=${assigned(c2)}`)
    const a1 = assigned(c1)
    const a2 = assigned(c2)
    // a Fetch the first member sent before the rebalance (for all 4 partitions) may still be
    // parked at the broker: let it return (maxWaitTime 300 ms) before producing
    await sleep(1000)
    checkEq(a1, assigned(c1), 'c1 assignment 1 s after the split')
    checkEq(a2, assigned(c2), 'c2 assignment 1 s after the split')
    checkEq(0, q1.length + q2.length, 'records from an empty topic')
    const first = await produceEach(topic, parts, 0, firstN, 'first')
    const readBy = new Map()
    await waitFor(() => {
      take(q1, 'c1', a1, readBy, 'first')
      take(q2, 'c2', a2, readBy, 'first')
      return readBy.size >= first.length
    }, 30, () => `the two members read ${readBy.size} of ${first.length} records`)
    await sleep(500)
    take(q1, 'c1', a1, readBy, 'first')
    take(q2, 'c2', a2, readBy, 'first')
    checkEq([...first].sort(), [...readBy.keys()].sort(), 'records read by the two members together')
    checkEq(a1, assigned(c1), 'c1 assignment after reading')
    checkEq(a2, assigned(c2), 'c2 assignment after reading')
    await commitLast(readBy, 'c1')
    await commitLast(readBy, 'c2')
    const committed = await c1.listCommittedOffsets({ topics: [{ topic, partitions: [0, 1, 2, 3] }] })
    checkEq(Array(parts).fill(BigInt(firstN)), committed.get(topic), 'committed offsets (listCommittedOffsets by c1)')

    await s2.close()
    await c2.close() // LeaveGroup
    c2 = null
    await waitFor(() => show(assigned(c1)) === show(all), 30,
      () => `c1 did not get all partitions within 30 s after c2 left: ${assigned(c1)}`)
    checkEq(0, q1.length, 'c1 records while none were produced')
    const second = await produceEach(topic, parts, firstN, secondN, 'second')
    const after = new Map()
    await waitFor(() => {
      take(q1, 'c1', null, after, 'second')
      return after.size >= second.length
    }, 30, () => `c1 read ${after.size} of ${second.length} records after c2 left`)
    await sleep(500)
    take(q1, 'c1', null, after, 'second') // a re-read 'first-' record fails the value check
    checkEq([...second].sort(), [...after.keys()].sort(), 'records c1 read after c2 left')
    await s1.close()
    return `split ${a1.map(x => x.split(':')[1])} / ${a2.map(x => x.split(':')[1])}, then c1 alone read ${second.length}`
  } finally {
    if (c2) await c2.close(true)
    await c1.close(true)
  }
}

async function groupCommitResume () {
  const parts = 2
  const n = 25
  const m = 10
  const topic = uniq('plt-gresume')
  const group = uniq('plt-gresume-group')
  const opts = { topics: [topic], mode: MessagesStreamModes.COMMITTED, fallbackMode: MessagesStreamFallbackModes.EARLIEST }
  const a = admin()
  try {
    await createTopic(a, topic, parts)
    const first = await produceEach(topic, parts, 0, n, 'old')
    let c = consumer(group, { clientId: 'plt-gresume-1' })
    try {
      const none = await c.listCommittedOffsets({ topics: [{ topic, partitions: [0, 1] }] })
      checkEq([-1n, -1n], none.get(topic), 'committed offsets of a fresh group')
      const s = await c.consume(opts)
      const q = collector(s)
      const readBy = new Map()
      await waitFor(() => { take(q, 'c', null, readBy, 'old'); return readBy.size >= first.length }, 30,
        () => `read ${readBy.size} of ${first.length}`)
      checkEq([...first].sort(), [...readBy.keys()].sort(), 'records read by the first member')
      await commitLast(readBy, 'c')
      checkEq([BigInt(n), BigInt(n)], (await c.listCommittedOffsets({ topics: [{ topic, partitions: [0, 1] }] })).get(topic),
        'committed offsets after commit()')
      await s.close()
    } finally {
      await c.close(true)
    }

    const groups = await a.listGroups()
    check(groups.has(group), () => `listGroups lacks ${group}: ${show([...groups.keys()])}`)
    checkEq(['EMPTY', 'consumer'], [groups.get(group).state, groups.get(group).protocolType], 'listGroups state, protocol type')
    const desc = (await a.describeGroups({ groups: [group] })).get(group)
    checkEq(['EMPTY', 0], [desc.state, desc.members.size], 'describeGroups state, member count')
    const offs = await a.listConsumerGroupOffsets({ groups: [group] })
    checkEq([[topic, [[0, BigInt(n)], [1, BigInt(n)]]]],
      offs[0].topics.map(t => [t.name, t.partitions.map(p => [p.partitionIndex, p.committedOffset]).sort()]),
      'listConsumerGroupOffsets')

    const second = await produceEach(topic, parts, n, m, 'new')
    c = consumer(group, { clientId: 'plt-gresume-2' })
    try {
      const s = await c.consume(opts)
      const q = collector(s)
      const readBy = new Map()
      await waitFor(() => { take(q, 'c', null, readBy, 'new'); return readBy.size >= second.length }, 30,
        () => `new member read ${readBy.size} of ${second.length}`)
      await sleep(500)
      take(q, 'c', null, readBy, 'new') // an 'old-' record fails the value check
      for (let part = 0; part < parts; part++) {
        checkEq([...Array(m).keys()].map(i => BigInt(n + i)),
          [...readBy.values()].map(x => x.m).filter(x => x.partition === part).map(x => x.offset).sort((x, y) => (x < y ? -1 : 1)),
          `offsets the new member read on partition ${part}`)
      }
      await commitLast(readBy, 'c')
      await s.close()
    } finally {
      await c.close(true)
    }

    // rewind partition 0 of the (empty) group to 30 with OffsetCommit from the admin client
    await a.alterConsumerGroupOffsets({ groupId: group, topics: [{ name: topic, partitionOffsets: [{ partition: 0, offset: 30n }] }] })
    c = consumer(group, { clientId: 'plt-gresume-3' })
    try {
      const s = await c.consume(opts)
      const q = collector(s)
      await waitFor(() => q.length >= 5, 20, () => `read ${q.length} of 5 after the rewind`)
      await sleep(500)
      checkEq([30n, 31n, 32n, 33n, 34n].map(o => `0@${o}`), q.map(pos), 'records read after alterConsumerGroupOffsets(p0 -> 30)')
      await s.close()
    } finally {
      await c.close(true)
    }
    await a.deleteGroups({ groups: [group] })
    check(!(await a.listGroups()).has(group), `${group} still listed after deleteGroups`)
    return `resumed at ${n}, read exactly ${second.length} new records; rewound p0 to 30`
  } finally {
    await a.close()
  }
}

// --------------------------------------------------------------------------- admin

async function adminTopics () {
  const t1 = uniq('plt-adm-a')
  const a = admin()
  try {
    const created = await createTopic(a, t1, 3, { 'retention.ms': '7654321' })
    check(/^[0-9a-f-]{36}$/.test(created.id) && created.id !== '00000000-0000-0000-0000-000000000000',
      () => `topic id ${created.id}`)
    checkEq('7654321', created.configuration['retention.ms'], 'retention.ms in the CreateTopics answer')
    await expectApiError(a.createTopics({ topics: [t1], partitions: 3, replicas: 1 }), TOPIC_ALREADY_EXISTS, 'second createTopics')
    await waitFor(async () => (await a.listTopics()).includes(t1), 10, () => `listTopics lacks ${t1}`)
    const md = await a.metadata({ topics: [t1], forceUpdate: true })
    const brokers = [...md.brokers.keys()]
    checkEq(1, brokers.length, 'brokers in Metadata')
    checkEq(brokers[0], md.controllerId, 'controller id')
    const tmd = md.topics.get(t1)
    checkEq(created.id, tmd.id, 'topic id in Metadata')
    checkEq(3, tmd.partitionsCount, 'partition count in Metadata')
    for (const p of tmd.partitions) {
      checkEq([brokers[0], [brokers[0]], [brokers[0]]], [p.leader, p.replicas, p.isr], 'partition leader, replicas, isr')
    }
    await a.createPartitions({ topics: [{ name: t1, count: 5 }] })
    await waitFor(async () => (await a.metadata({ topics: [t1], forceUpdate: true })).topics.get(t1).partitionsCount === 5, 10,
      () => 'partition count after createPartitions(5)')
    await expectApiError(a.createPartitions({ topics: [{ name: t1, count: 2 }] }), INVALID_PARTITIONS, 'createPartitions 5 -> 2')
    await a.createPartitions({ topics: [{ name: t1, count: 8 }], validateOnly: true })
    await sleep(300)
    checkEq(5, (await a.metadata({ topics: [t1], forceUpdate: true })).topics.get(t1).partitionsCount,
      'partition count after a validateOnly createPartitions(8)')
    const internal = await a.listTopics({ includeInternals: true })
    check(!(await a.listTopics()).some(t => t.startsWith('__')), 'listTopics() lists internal topics')
    await a.deleteTopics({ topics: [t1] })
    await waitFor(async () => !(await a.listTopics()).includes(t1), 10, () => `${t1} still listed 10 s after deleteTopics`)
    await expectApiError(a.deleteTopics({ topics: [t1] }), UNKNOWN_TOPIC_OR_PARTITION, 'deleteTopics of a deleted topic')
    return `topic id ${created.id}, ${internal.length} topics with internals`
  } finally {
    await a.close()
  }
}

async function describeTopic (a, topic, keys) {
  const res = await a.describeConfigs({ resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: topic, configurationKeys: keys }] })
  checkEq([topic], res.map(r => r.resourceName), 'describeConfigs resources')
  return new Map(res[0].configs.map(c => [c.name, c]))
}

const vs = c => c && [c.value, c.configSource]

/** Kafka applies a config change through its controller, so a DescribeConfigs right after the
 *  alter may still show the old value: describe until `name` has `value` (10 s at most). */
async function describeUntil (a, topic, name, value) {
  let cfg
  await waitFor(async () => { cfg = await describeTopic(a, topic); return cfg.get(name)?.value === value }, 10,
    () => `${name} of ${topic} is ${show(cfg.get(name)?.value)}, not ${show(value)}, 10 s after the change`)
  return cfg
}

async function adminConfigs () {
  const t = uniq('plt-cfg')
  const plain = uniq('plt-cfg-plain')
  const TOPIC = ConfigResourceTypes.TOPIC
  const OP = IncrementalAlterConfigOperationTypes
  const a = admin()
  try {
    await createTopic(a, t, 1, { 'retention.ms': '7654321', 'max.message.bytes': '200000', 'cleanup.policy': 'delete' })
    await createTopic(a, plain, 1)
    await waitFor(async () => { const l = await a.listTopics(); return l.includes(t) && l.includes(plain) }, 10, () => 'topics not listed')
    const defaults = await describeTopic(a, plain)
    for (const name of ['cleanup.policy', 'retention.ms', 'max.message.bytes', 'segment.bytes']) {
      check(defaults.has(name), () => `describeConfigs of a plain topic lacks ${name}`)
      check(defaults.get(name).configSource !== ConfigSources.TOPIC_CONFIG, () => `${name} of a plain topic: ${show(defaults.get(name))}`)
    }
    let cfg = await describeTopic(a, t)
    checkEq(['7654321', ConfigSources.TOPIC_CONFIG], vs(cfg.get('retention.ms')), 'retention.ms (value, source)')
    checkEq(['200000', ConfigSources.TOPIC_CONFIG], vs(cfg.get('max.message.bytes')), 'max.message.bytes')
    checkEq(false, cfg.get('retention.ms').readOnly, 'retention.ms readOnly')
    const only = await describeTopic(a, t, ['retention.ms', 'cleanup.policy'])
    checkEq(['cleanup.policy', 'retention.ms'], [...only.keys()].sort(), 'describeConfigs with two configurationKeys')

    const node = [...(await a.metadata({ topics: [] })).brokers.keys()][0]
    const bres = await a.describeConfigs({ resources: [{ resourceType: ConfigResourceTypes.BROKER, resourceName: String(node) }] })
    const bcfg = new Map(bres[0].configs.map(c => [c.name, c]))
    checkEq('1', bcfg.get('num.partitions')?.value, 'broker num.partitions')

    // IncrementalAlterConfigs: SET, DELETE, APPEND, then SUBTRACT
    await a.incrementalAlterConfigs({
      resources: [{
        resourceType: TOPIC,
        resourceName: t,
        configs: [
          { name: 'retention.ms', configOperation: OP.SET, value: '1111111' },
          { name: 'max.message.bytes', configOperation: OP.DELETE },
          { name: 'cleanup.policy', configOperation: OP.APPEND, value: 'compact' }
        ]
      }]
    })
    cfg = await describeUntil(a, t, 'retention.ms', '1111111')
    checkEq(['1111111', ConfigSources.TOPIC_CONFIG], vs(cfg.get('retention.ms')), 'retention.ms after SET')
    checkEq(vs(defaults.get('max.message.bytes')), vs(cfg.get('max.message.bytes')), 'max.message.bytes after DELETE (the default)')
    checkEq(['delete,compact', ConfigSources.TOPIC_CONFIG], vs(cfg.get('cleanup.policy')), 'cleanup.policy after APPEND compact')
    await a.incrementalAlterConfigs({
      resources: [{ resourceType: TOPIC, resourceName: t, configs: [{ name: 'cleanup.policy', configOperation: OP.SUBTRACT, value: 'delete' }] }]
    })
    checkEq(['compact', ConfigSources.TOPIC_CONFIG], vs((await describeUntil(a, t, 'cleanup.policy', 'compact')).get('cleanup.policy')),
      'cleanup.policy after SUBTRACT delete')

    // validateOnly changes nothing; a bad value or an unknown name is INVALID_CONFIG
    await a.incrementalAlterConfigs({
      resources: [{ resourceType: TOPIC, resourceName: t, configs: [{ name: 'retention.ms', configOperation: OP.SET, value: '999' }] }],
      validateOnly: true
    })
    await sleep(500)
    checkEq('1111111', (await describeTopic(a, t)).get('retention.ms').value, 'retention.ms after a validateOnly SET')
    await expectApiError(a.incrementalAlterConfigs({
      resources: [{ resourceType: TOPIC, resourceName: t, configs: [{ name: 'retention.ms', configOperation: OP.SET, value: 'soon' }] }]
    }), INVALID_CONFIG, 'incrementalAlterConfigs retention.ms=soon')
    await expectApiError(a.incrementalAlterConfigs({
      resources: [{ resourceType: TOPIC, resourceName: t, configs: [{ name: 'no.such.config', configOperation: OP.SET, value: '1' }] }]
    }), INVALID_CONFIG, 'incrementalAlterConfigs no.such.config')

    // AlterConfigs replaces the whole set of overrides
    await a.alterConfigs({ resources: [{ resourceType: TOPIC, resourceName: t, configs: [{ name: 'retention.ms', value: '2222222' }] }] })
    cfg = await describeUntil(a, t, 'retention.ms', '2222222')
    checkEq(['2222222', ConfigSources.TOPIC_CONFIG], vs(cfg.get('retention.ms')), 'retention.ms after AlterConfigs')
    checkEq(vs(defaults.get('cleanup.policy')), vs(cfg.get('cleanup.policy')), 'cleanup.policy after an AlterConfigs without it')

    await expectApiError(describeTopic(a, uniq('plt-cfg-none')), UNKNOWN_TOPIC_OR_PARTITION, 'describeConfigs of an unknown topic')
    await a.deleteTopics({ topics: [t, plain] })
    return `${cfg.size} topic configs, ${bcfg.size} broker configs`
  } finally {
    await a.close()
  }
}

// --------------------------------------------------------------------------- offsets

async function offsets () {
  const topic = uniq('plt-offs')
  const a = admin()
  try {
    await createTopic(a, topic, 2, { 'retention.ms': '-1' })
    const p = producer()
    try {
      const messages = [...Array(10).keys()].map(i => ({ topic, key: `k${i}`, value: `v${i}`, partition: 0, timestamp: BigInt(1000 * (i + 1)) }))
      const res = await p.send({ messages })
      checkEq([[0, 0n]], res.offsets.map(o => [o.partition, o.offset]), 'base offset acked')
    } finally {
      await p.close()
    }
    const query = async ts => {
      const r = await a.listOffsets({ topics: [{ name: topic, partitions: [{ partitionIndex: 0, timestamp: ts }, { partitionIndex: 1, timestamp: ts }] }] })
      const ps = r[0].partitions.sort((x, y) => x.partitionIndex - y.partitionIndex)
      return ps.map(x => [x.offset, x.timestamp])
    }
    checkEq([[0n, -1n], [0n, -1n]], await query(ListOffsetTimestamps.EARLIEST), 'listOffsets EARLIEST')
    checkEq([[10n, -1n], [0n, -1n]], await query(ListOffsetTimestamps.LATEST), 'listOffsets LATEST')
    checkEq([[9n, 10000n], [-1n, -1n]], await query(-3n), 'listOffsets MAX_TIMESTAMP (-3)')
    for (const [ts, want] of [[0n, 0], [1000n, 0], [2500n, 2], [10000n, 9]]) {
      checkEq([[BigInt(want), BigInt(1000 * (want + 1))], [-1n, -1n]], await query(ts), `listOffsets(${ts})`)
    }
    checkEq([[-1n, -1n], [-1n, -1n]], await query(10001n), 'listOffsets(10001) past the last timestamp')

    const c = consumer(uniq('plt-offs-c'))
    try {
      const withTs = (await c.listOffsetsWithTimestamps({ topics: [topic], timestamp: 2500n })).get(topic)
      checkEq({ offset: 2n, timestamp: 3000n }, withTs.get(0), 'consumer listOffsetsWithTimestamps(2500) partition 0')
    } finally {
      await c.close(true)
    }

    const del = await a.deleteRecords({ topics: [{ name: topic, partitions: [{ partition: 0, offset: 6n }] }] })
    checkEq([[topic, [[0, 6n]]]], del.map(t => [t.name, t.partitions.map(x => [x.partition, x.lowWatermark])]), 'deleteRecords low watermark')
    checkEq([[6n, -1n], [0n, -1n]], await query(ListOffsetTimestamps.EARLIEST), 'listOffsets EARLIEST after deleteRecords')
    checkEq([[10n, -1n], [0n, -1n]], await query(ListOffsetTimestamps.LATEST), 'listOffsets LATEST after deleteRecords')
    const got = await readAll(topic, 4)
    checkEq(['0@6', '0@7', '0@8', '0@9'], got.map(pos), 'records read from EARLIEST after deleteRecords')
    // the first record at or after the new log start whose timestamp is >= the query
    for (const [ts, want] of [[0n, 6], [2500n, 6], [7000n, 6], [8500n, 8]]) {
      checkEq([[BigInt(want), BigInt(1000 * (want + 1))], [-1n, -1n]], await query(ts), `listOffsets(${ts}) after deleteRecords to 6`)
    }
    return 'ListOffsets by timestamp, max timestamp, DeleteRecords ok'
  } finally {
    await a.close()
  }
}

// --------------------------------------------------------------------------- transactions

async function transactions () {
  const parts = 2
  const topic = uniq('plt-txn')
  await withAdmin(a => createTopic(a, topic, parts))
  const p = producer({ idempotent: true, transactionalId: uniq('plt-txn-id') })
  const committed = [[], []]
  const aborted = [[], []]
  try {
    const txn = async (label, count, commit) => {
      const tx = await p.beginTransaction()
      for (let i = 0; i < count; i++) {
        const messages = [...Array(parts).keys()].map(part => ({ topic, key: `k${i}`, value: `${label}-${part}-${i}`, partition: part }))
        await tx.send({ messages })
        for (const m of messages) (commit ? committed : aborted)[m.partition].push(m.value)
      }
      if (commit) await tx.commit()
      else await tx.abort()
      check(tx.completed, `${label}: transaction not completed`)
    }
    await txn('c1', 5, true)
    await txn('ab', 4, false)
    await txn('c2', 3, true)
  } finally {
    await p.close()
  }
  // one control record per partition ends each transaction: c1 at 0-4, ab at 6-9, c2 at 11-13
  const rc = await readAll(topic, 16, { isolationLevel: FetchIsolationLevels.READ_COMMITTED })
  for (let part = 0; part < parts; part++) {
    const mine = rc.filter(m => m.partition === part)
    checkEq([0n, 1n, 2n, 3n, 4n, 11n, 12n, 13n], mine.map(m => m.offset), `read_committed offsets on partition ${part}`)
    checkEq(committed[part], mine.map(m => m.value), `read_committed values on partition ${part}`)
  }
  checkEq(16, rc.length, 'read_committed record count')
  const ru = await readAll(topic, 24, { isolationLevel: FetchIsolationLevels.READ_UNCOMMITTED })
  for (let part = 0; part < parts; part++) {
    const mine = ru.filter(m => m.partition === part)
    checkEq([0n, 1n, 2n, 3n, 4n, 6n, 7n, 8n, 9n, 11n, 12n, 13n], mine.map(m => m.offset), `read_uncommitted offsets on partition ${part}`)
    checkEq([...committed[part].slice(0, 5), ...aborted[part], ...committed[part].slice(5)], mine.map(m => m.value),
      `read_uncommitted values on partition ${part}`)
  }

  // an open transaction holds read_committed readers (and the LSO) back until it commits
  const a = admin()
  const p2 = producer({ idempotent: true, transactionalId: uniq('plt-txn-open') })
  const c = consumer(uniq('plt-txn-rc'), { isolationLevel: FetchIsolationLevels.READ_COMMITTED })
  try {
    const latest = async level => {
      const r = await a.listOffsets({ topics: [{ name: topic, partitions: [{ partitionIndex: 0, timestamp: ListOffsetTimestamps.LATEST }] }], isolationLevel: level })
      return r[0].partitions[0].offset
    }
    checkEq([15n, 15n], [await latest(FetchIsolationLevels.READ_COMMITTED), await latest(FetchIsolationLevels.READ_UNCOMMITTED)],
      'latest offsets (committed, uncommitted) before the open transaction')
    const tx = await p2.beginTransaction()
    await tx.send({ messages: [0, 1, 2].map(i => ({ topic, value: `open-${i}`, partition: 0 })) })
    checkEq([15n, 18n], [await latest(FetchIsolationLevels.READ_COMMITTED), await latest(FetchIsolationLevels.READ_UNCOMMITTED)],
      'latest offsets (committed, uncommitted) with a transaction open')
    const stream = await c.consume({ topics: [topic], mode: MessagesStreamModes.MANUAL, offsets: [{ topic, partition: 0, offset: 14n }] })
    const q = collector(stream)
    await sleep(1200)
    checkEq([], q.map(pos), 'read_committed records past the LSO while the transaction is open')
    await tx.commit()
    await waitFor(() => q.length >= 3, 15, () => `read_committed read ${q.length} of 3 after the commit`)
    checkEq([['0@15', 'open-0'], ['0@16', 'open-1'], ['0@17', 'open-2']], q.map(m => [pos(m), m.value]), 'read_committed after the commit')
    checkEq(19n, await latest(FetchIsolationLevels.READ_COMMITTED), 'latest committed offset after the commit')
    await stream.close()
  } finally {
    await c.close(true)
    await p2.close()
    await a.close()
  }
  return 'commit/abort/commit, LSO held at 15 by an open transaction'
}

async function txnConsumeTransformProduce () {
  const parts = 2
  const per = 15
  const src = uniq('plt-ctp-in')
  const dst = uniq('plt-ctp-out')
  const group = uniq('plt-ctp-group')
  await withAdmin(async a => { await createTopic(a, src, parts); await createTopic(a, dst, parts) })
  const inputs = await produceEach(src, parts, 0, per, 'in')
  const c = consumer(group, { clientId: 'plt-ctp-consumer', isolationLevel: FetchIsolationLevels.READ_COMMITTED })
  const p = producer({ idempotent: true, transactionalId: uniq('plt-ctp-txn') })
  const opts = { topics: [src], mode: MessagesStreamModes.COMMITTED, fallbackMode: MessagesStreamFallbackModes.EARLIEST }
  let abortedN = 0
  const processed = []
  try {
    // one transaction over the first records read, aborted; the stream is then reopened at the
    // group's committed offsets (none: from the beginning) and everything is done in committed txns
    let stream = await c.consume(opts)
    let q = collector(stream)
    await waitFor(() => q.length >= 7, 20, () => `read ${q.length} input records`)
    let batch = q.splice(0, 7)
    let tx = await p.beginTransaction()
    await tx.addConsumer(c)
    await tx.send({ messages: batch.map(m => ({ topic: dst, key: m.key, value: `OUT-${m.value.toUpperCase()}`, partition: m.partition, headers: { 'src-offset': String(m.offset) } })) })
    for (const m of batch) await tx.addOffset(m)
    await tx.abort()
    abortedN = batch.length
    checkEq([-1n, -1n], (await c.listCommittedOffsets({ topics: [{ topic: src, partitions: [0, 1] }] })).get(src),
      'group offsets after the aborted transaction')
    await stream.close()
    stream = await c.consume(opts)
    q = collector(stream)
    const deadline = Date.now() + 40000
    while (processed.length < inputs.length) {
      check(Date.now() < deadline, () => `processed ${processed.length} of ${inputs.length} in 40 s`)
      if (!q.length) { await sleep(50); continue }
      batch = q.splice(0, 6)
      tx = await p.beginTransaction()
      await tx.addConsumer(c)
      await tx.send({ messages: batch.map(m => ({ topic: dst, key: m.key, value: `OUT-${m.value.toUpperCase()}`, partition: m.partition, headers: { 'src-offset': String(m.offset) } })) })
      for (const m of batch) await tx.addOffset(m)
      await tx.commit()
      processed.push(...batch.map(m => m.value))
    }
    await stream.close()
    checkEq([...inputs].sort(), [...processed].sort(), 'inputs processed in committed transactions (each once)')
    // the transaction's offsets are visible once the coordinator has written the markers
    await waitFor(async () => show((await c.listCommittedOffsets({ topics: [{ topic: src, partitions: [0, 1] }] })).get(src)) === show([BigInt(per), BigInt(per)]),
      10, () => 'group offsets did not reach 15/15 within 10 s')
  } finally {
    await c.close(true)
    await p.close()
  }
  const out = await readAll(dst, inputs.length, { isolationLevel: FetchIsolationLevels.READ_COMMITTED })
  checkEq(inputs.map(v => `OUT-${v.toUpperCase()}`).sort(), out.map(m => m.value).sort(), 'read_committed output')
  for (const m of out) {
    checkEq(`OUT-IN-${m.partition}-${m.headers.get('src-offset')}`, m.value, `output record at ${pos(m)}`)
  }
  const all = await readAll(dst, inputs.length + abortedN, { isolationLevel: FetchIsolationLevels.READ_UNCOMMITTED })
  checkEq(inputs.length + abortedN, all.length, 'read_uncommitted output includes the aborted batch')
  return `${inputs.length} inputs, first batch of ${abortedN} aborted and redone`
}

// --------------------------------------------------------------------------- runner

const SCENARIOS = {
  'produce-consume': () => produceConsume(false),
  'produce-consume-idempotent': () => produceConsume(true),
  compression,
  'group-split': groupSplit,
  'group-commit-resume': groupCommitResume,
  'admin-topics': adminTopics,
  'admin-configs': adminConfigs,
  offsets,
  transactions,
  'txn-consume-transform-produce': txnConsumeTransformProduce
}

async function main () {
  if (!BOOTSTRAP) {
    console.error('usage: node compat.mjs BOOTSTRAP [scenario ...]')
    return 2
  }
  const names = process.argv.slice(3).length ? process.argv.slice(3) : Object.keys(SCENARIOS)
  const pkg = JSON.parse(fs.readFileSync(new URL('../package.json', `file://${process.env.PLATFORMATIC_KAFKA}`), 'utf8'))
  console.log(`[${LABEL}] client version ${pkg.version}, node ${process.version}`)
  let failed = 0
  for (const name of names) {
    const full = `${LABEL}/${name}`
    const t0 = Date.now()
    let line
    let verdict
    try {
      const fn = SCENARIOS[name]
      if (!fn) throw new Mismatch(`no scenario ${name}`)
      let timer
      const info = await Promise.race([
        fn(),
        new Promise((_resolve, reject) => { timer = setTimeout(() => reject(new Mismatch(`timed out after ${SCENARIO_TIMEOUT_MS / 1000} s`)), SCENARIO_TIMEOUT_MS) })
      ]).finally(() => clearTimeout(timer))
      verdict = 'PASS'
      line = `PASS ${full} (${((Date.now() - t0) / 1000).toFixed(1)}s) ${info ?? ''}`
    } catch (e) {
      failed++
      verdict = 'FAIL'
      const kind = e instanceof Mismatch ? '' : `${e.name}${e.code ? ` ${e.code}` : ''}: `
      const codes = apiCodes(e)
      line = `FAIL ${full} (${((Date.now() - t0) / 1000).toFixed(1)}s): ${kind}${e.message}${codes.length ? ` (error codes ${show(codes)})` : ''}`
      if (!(e instanceof Mismatch)) console.error(e)
    }
    console.log(line)
    if (process.env.COMPAT_RESULTS) fs.appendFileSync(process.env.COMPAT_RESULTS, `${verdict} ${full}\n`)
  }
  console.log(`[${LABEL}] ${names.length - failed} passed, ${failed} failed`)
  console.log(`[${LABEL}] requests sent: ${[...SENT.entries()].sort().map(([k, v]) => `${k}=${v}`).join(' ')}`)
  console.log(`[${LABEL}] error answers: ${[...ANSWERED.entries()].sort().map(([k, v]) => `${k}=${v}`).join(' ') || 'none'}`)
  return failed ? 1 : 0
}

main().then(code => process.exit(code), e => { console.error(e); process.exit(1) })
