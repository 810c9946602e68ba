'use strict'
// Odradek compat scenarios driven by KafkaJS (2.x).
//
// usage: node compat.js BOOTSTRAP [scenario ...]
// Prints "PASS kafkajs/<name>" / "FAIL kafkajs/<name>: reason" per scenario, appends the
// verdicts to $COMPAT_RESULTS when set, exits 1 if any scenario failed.
// Consumers use consumer groups (classic protocol: KafkaJS has no KIP-848 support) with
// autoCommit off and explicit commitOffsets, so every commit is one the scenario asserts on.

const fs = require('fs')
const crypto = require('crypto')
const { Kafka, logLevel } = require('kafkajs')

const BOOTSTRAP = process.argv[2]
const DEBUG = process.env.COMPAT_DEBUG === '1'

class Mismatch extends Error {}

function check (ok, what) {
  if (!ok) throw new Mismatch(what)
}

function checkEq (expected, actual, what) {
  const e = JSON.stringify(expected)
  const a = JSON.stringify(actual)
  if (e !== a) throw new Mismatch(`${what}: expected ${e} but got ${a}`)
}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))
const uniq = prefix => `${prefix}-${crypto.randomBytes(4).toString('hex')}`

// Log lines KafkaJS prints at ERROR/WARN for conditions the scenarios provoke on purpose
// (a rejoin during a rebalance, creating an existing topic); everything else is printed.
const EXPECTED_NOISE = [/group is rebalancing/, /Topic creation errors/, /The group is rebalancing, re-joining/]
const logCreator = () => ({ namespace, level, label, log }) => {
  const { message, ...extra } = log
  const text = `${message} ${extra.error || ''}`
  if (!DEBUG && EXPECTED_NOISE.some(re => re.test(text))) return
  console.error(`[kafkajs ${label}] ${namespace}: ${message} ${JSON.stringify(extra)}`)
}

function kafka (clientId) {
  return new Kafka({
    clientId,
    brokers: [BOOTSTRAP],
    connectionTimeout: 5000,
    requestTimeout: 15000,
    retry: { retries: 5, initialRetryTime: 200 },
    logLevel: DEBUG ? logLevel.DEBUG : logLevel.WARN,
    logCreator
  })
}

function groupConsumer (k, groupId) {
  return k.consumer({
    groupId,
    sessionTimeout: 10000,
    rebalanceTimeout: 20000,
    heartbeatInterval: 500,
    maxWaitTimeInMs: 500,
    retry: { retries: 5, initialRetryTime: 200 }
  })
}

/** Waits until pred() holds (polling every 50 ms) or fails with what(). */
async function waitFor (pred, seconds, what) {
  const deadline = Date.now() + seconds * 1000
  while (!pred()) {
    if (Date.now() > deadline) throw new Mismatch(what())
    await sleep(50)
  }
}

/** Sends per records to each partition (explicit partition); value PREFIX-P-I must be acked at offset I. */
async function produceEach (k, topic, partitions, start, per, prefix) {
  const producer = k.producer({ allowAutoTopicCreation: false })
  await producer.connect()
  const values = []
  try {
    for (let p = 0; p < partitions; p++) {
      const messages = []
      for (let i = start; i < start + per; i++) {
        const v = `${prefix}-${p}-${i}`
        values.push(v)
        messages.push({ key: `k${i}`, value: v, partition: p })
      }
      const res = await producer.send({ topic, messages, acks: -1 })
      checkEq(1, res.length, `produce result entries for partition ${p}`)
      checkEq(0, res[0].errorCode, `produce error code for partition ${p}`)
      checkEq(p, res[0].partition, 'acked partition')
      checkEq(String(start), String(res[0].baseOffset), `base offset of the batch to partition ${p}`)
    }
  } finally {
    await producer.disconnect()
  }
  return values
}

/**
 * Runs a group consumer (autoCommit off) that records every message; resolves once it has
 * joined. Returns {consumer, got: [{partition, offset, value}], assignment()}.
 */
async function startConsumer (k, groupId, topic) {
  const consumer = groupConsumer(k, groupId)
  const state = { consumer, got: [], assigned: null, joins: 0 }
  consumer.on(consumer.events.GROUP_JOIN, e => {
    state.assigned = e.payload.memberAssignment
    state.memberId = e.payload.memberId
    state.joins++
  })
  consumer.on(consumer.events.CRASH, e => { state.crash = e.payload.error })
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ topic: t, partition, message }) => {
      state.got.push({ topic: t, partition, offset: Number(message.offset), value: message.value.toString() })
    }
  })
  await waitFor(() => state.assigned !== null || state.crash, 30,
    () => `consumer in group ${groupId} did not join within 30 s`)
  if (state.crash) throw state.crash
  return state
}

async function committedOffsets (admin, groupId, topic) {
  const res = await admin.fetchOffsets({ groupId, topics: [topic] })
  const t = res.find(x => x.topic === topic)
  check(t, `fetchOffsets(${groupId}) has no entry for ${topic}: ${JSON.stringify(res)}`)
  const out = {}
  for (const p of t.partitions) out[p.partition] = { offset: String(p.offset), metadata: p.metadata }
  return out
}

// ---------------------------------------------------------------------------- scenarios

/** createTopics, fetchTopicMetadata, fetchTopicOffsets, fetchOffsets/setOffsets, list/describe/deleteGroups. */
async function scenarioAdmin () {
  const k = kafka('odradek-compat-kafkajs-admin')
  const topic = uniq('kjs-admin')
  const groupId = uniq('kjs-admin-group')
  const admin = k.admin()
  await admin.connect()
  try {
    checkEq(true, await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true }),
      'createTopics result for a new topic')
    checkEq(false, await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] }),
      'createTopics result for an existing topic (KafkaJS answers false on TOPIC_ALREADY_EXISTS)')
    const listed = await admin.listTopics()
    check(listed.includes(topic), `listTopics lacks ${topic}`)

    const md = await admin.fetchTopicMetadata({ topics: [topic] })
    checkEq(1, md.topics.length, 'fetchTopicMetadata topic count')
    checkEq(topic, md.topics[0].name, 'fetchTopicMetadata topic name')
    const parts = md.topics[0].partitions.slice().sort((a, b) => a.partitionId - b.partitionId)
    checkEq([0, 1, 2], parts.map(p => p.partitionId), 'fetchTopicMetadata partition ids')
    const cluster = await admin.describeCluster()
    checkEq(1, cluster.brokers.length, 'describeCluster broker count')
    const node = cluster.brokers[0].nodeId
    for (const p of parts) {
      checkEq(0, p.partitionErrorCode, `partition ${p.partitionId} error code`)
      checkEq(node, p.leader, `leader of partition ${p.partitionId}`)
      checkEq([node], p.replicas, `replicas of partition ${p.partitionId}`)
      checkEq([node], p.isr, `isr of partition ${p.partitionId}`)
    }

    await produceEach(k, topic, 3, 0, 5, 'adm')
    const offs = (await admin.fetchTopicOffsets(topic)).sort((a, b) => a.partition - b.partition)
    checkEq([0, 1, 2].map(p => ({ partition: p, offset: '5', high: '5', low: '0' })),
      offs.map(o => ({ partition: o.partition, offset: String(o.offset), high: String(o.high), low: String(o.low) })),
      'fetchTopicOffsets after 5 records per partition')

    // no commits yet: fetchOffsets reports -1 for every partition
    let c = await committedOffsets(admin, groupId, topic)
    checkEq({ 0: '-1', 1: '-1', 2: '-1' }, { 0: c[0].offset, 1: c[1].offset, 2: c[2].offset },
      'fetchOffsets of a group without commits')

    // setOffsets on the (empty) group, read back with fetchOffsets
    await admin.setOffsets({ groupId, topic, partitions: [{ partition: 0, offset: '2' }, { partition: 2, offset: '4' }] })
    c = await committedOffsets(admin, groupId, topic)
    checkEq({ 0: '2', 1: '-1', 2: '4' }, { 0: c[0].offset, 1: c[1].offset, 2: c[2].offset },
      'fetchOffsets after setOffsets(0=2, 2=4)')

    // a member of the group starts at the set offsets (partition 1: fromBeginning)
    const st = await startConsumer(k, groupId, topic)
    try {
      await waitFor(() => st.got.length >= 3 + 5 + 1, 30, () => `records after setOffsets: ${JSON.stringify(st.got)}`)
      await sleep(500)
      const firsts = {}
      for (const r of st.got) if (!(r.partition in firsts)) firsts[r.partition] = r.offset
      checkEq({ 0: 2, 1: 0, 2: 4 }, firsts, 'first offset consumed per partition after setOffsets')
      checkEq(9, st.got.length, 'records consumed after setOffsets (3 + 5 + 1)')
      await st.consumer.commitOffsets([0, 1, 2].map(p => ({ topic, partition: p, offset: '5' })))
      c = await committedOffsets(admin, groupId, topic)
      checkEq({ 0: '5', 1: '5', 2: '5' }, { 0: c[0].offset, 1: c[1].offset, 2: c[2].offset },
        'fetchOffsets after the member committed 5 everywhere')

      const groups = (await admin.listGroups()).groups
      const g = groups.find(x => x.groupId === groupId)
      check(g, `listGroups lacks ${groupId}: ${JSON.stringify(groups)}`)
      checkEq('consumer', g.protocolType, 'listGroups protocol type')
      const d = (await admin.describeGroups([groupId])).groups[0]
      checkEq(0, d.errorCode, 'describeGroups error code')
      checkEq('Stable', d.state, 'describeGroups state with an active member')
      checkEq('consumer', d.protocolType, 'describeGroups protocol type')
      checkEq(1, d.members.length, 'describeGroups member count')
      checkEq(st.memberId, d.members[0].memberId, 'describeGroups member id')
      checkEq('odradek-compat-kafkajs-admin', d.members[0].clientId, 'describeGroups client id')
    } finally {
      await st.consumer.disconnect()
    }
    const d = (await admin.describeGroups([groupId])).groups[0]
    checkEq('Empty', d.state, 'describeGroups state after the member disconnected')
    const del = await admin.deleteGroups([groupId])
    checkEq([{ groupId, errorCode: 0 }], del.map(x => ({ groupId: x.groupId, errorCode: x.errorCode })), 'deleteGroups result')
    const after = (await admin.listGroups()).groups
    check(!after.find(x => x.groupId === groupId), `listGroups still has ${groupId} after deleteGroups`)
    c = await committedOffsets(admin, groupId, topic)
    checkEq({ 0: '-1', 1: '-1', 2: '-1' }, { 0: c[0].offset, 1: c[1].offset, 2: c[2].offset },
      'fetchOffsets of the deleted group')
    await admin.deleteTopics({ topics: [topic] })
    return 'createTopics/fetchTopicMetadata/fetchTopicOffsets/setOffsets/fetchOffsets/listGroups/describeGroups/deleteGroups ok'
  } finally {
    await admin.disconnect()
  }
}

/** A group consumer (eachMessage) reads every record once, from the acked positions. */
async function scenarioGroupConsume () {
  const k = kafka('odradek-compat-kafkajs')
  const topic = uniq('kjs-group')
  const groupId = uniq('kjs-group-g')
  const admin = k.admin()
  await admin.connect()
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true })
  } finally {
    await admin.disconnect()
  }
  const values = await produceEach(k, topic, 3, 0, 100, 'gc')
  const st = await startConsumer(k, groupId, topic)
  try {
    checkEq({ [topic]: [0, 1, 2] }, { [topic]: (st.assigned[topic] || []).slice().sort() }, 'assignment of the only member')
    await waitFor(() => st.got.length >= values.length, 30, () => `consumed ${st.got.length} of ${values.length}`)
    await sleep(500)
    checkEq(values.length, st.got.length, 'records consumed (duplicates?)')
    const seen = new Set()
    for (const r of st.got) {
      checkEq(`gc-${r.partition}-${r.offset}`, r.value, `value at ${r.partition}@${r.offset}`)
      check(!seen.has(r.value), `${r.value} delivered twice`)
      seen.add(r.value)
    }
    for (let p = 0; p < 3; p++) {
      const offs = st.got.filter(r => r.partition === p).map(r => r.offset)
      checkEq([...Array(100).keys()], offs, `offsets consumed in order on partition ${p}`)
    }
  } finally {
    await st.consumer.disconnect()
  }
  return `${values.length} records over 3 partitions via eachMessage`
}

/** Two members of one group split 4 partitions 2+2; every record is read once, by its owner. */
async function scenarioGroupSplit () {
  const k = kafka('odradek-compat-kafkajs')
  const topic = uniq('kjs-split')
  const groupId = uniq('kjs-split-g')
  const admin = k.admin()
  await admin.connect()
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: 4 }], waitForLeaders: true })
  } finally {
    await admin.disconnect()
  }
  const a = await startConsumer(k, groupId, topic)
  let b = null
  try {
    b = await startConsumer(k, groupId, topic)
    const parts = st => (st.assigned && st.assigned[topic] ? st.assigned[topic].slice().sort() : [])
    await waitFor(() => {
      const pa = parts(a)
      const pb = parts(b)
      return pa.length === 2 && pb.length === 2 && new Set([...pa, ...pb]).size === 4
    }, 30, () => `no 2+2 split within 30 s: a=${JSON.stringify(parts(a))} b=${JSON.stringify(parts(b))}`)
    const pa = parts(a)
    const pb = parts(b)
    checkEq(0, a.got.length + b.got.length, 'records read from the empty topic')
    const values = await produceEach(k, topic, 4, 0, 25, 'split')
    await waitFor(() => a.got.length + b.got.length >= values.length, 30,
      () => `the two members read ${a.got.length} + ${b.got.length} of ${values.length}`)
    await sleep(800)
    for (const [who, st, owned] of [['a', a, pa], ['b', b, pb]]) {
      for (const r of st.got) {
        check(owned.includes(r.partition), `member ${who} read ${r.value} from partition ${r.partition}, not in its assignment ${JSON.stringify(owned)}`)
        checkEq(`split-${r.partition}-${r.offset}`, r.value, `value at ${r.partition}@${r.offset}`)
      }
    }
    const all = [...a.got, ...b.got].map(r => r.value)
    checkEq(values.length, all.length, 'records read by both members together (duplicates?)')
    checkEq(values.slice().sort(), all.sort(), 'values read by both members together')
    checkEq([pa, pb], [parts(a), parts(b)], 'assignments after reading (no further rebalance)')
    return `split ${JSON.stringify(pa)} / ${JSON.stringify(pb)}, ${values.length} records once each`
  } finally {
    if (b) await b.consumer.disconnect()
    await a.consumer.disconnect()
  }
}

/** Consume N, commitOffsets, disconnect; produce M; a new member reads exactly the M new ones. */
async function scenarioCommitResume () {
  const k = kafka('odradek-compat-kafkajs')
  const topic = uniq('kjs-resume')
  const groupId = uniq('kjs-resume-g')
  const N = 20
  const M = 8
  const admin = k.admin()
  await admin.connect()
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true })
    const first = await produceEach(k, topic, 2, 0, N, 'old')
    let st = await startConsumer(k, groupId, topic)
    try {
      await waitFor(() => st.got.length >= first.length, 30, () => `first consumer read ${st.got.length} of ${first.length}`)
      checkEq(first.slice().sort(), st.got.map(r => r.value).sort(), 'records read by the first consumer')
      await st.consumer.commitOffsets([
        { topic, partition: 0, offset: String(N) },
        { topic, partition: 1, offset: String(N) }
      ])
    } finally {
      await st.consumer.disconnect()
    }
    const c = await committedOffsets(admin, groupId, topic)
    checkEq({ 0: String(N), 1: String(N) }, { 0: c[0].offset, 1: c[1].offset }, 'fetchOffsets after commitOffsets')

    const second = await produceEach(k, topic, 2, N, M, 'new')
    st = await startConsumer(k, groupId, topic)
    try {
      await waitFor(() => st.got.length >= second.length, 30, () => `new consumer read ${st.got.length} of ${second.length}`)
      await sleep(800)
      for (const r of st.got) {
        check(!r.value.startsWith('old-'), `re-delivered ${r.value} at ${r.partition}@${r.offset} although ${N} was committed`)
      }
      for (let p = 0; p < 2; p++) {
        checkEq([...Array(M).keys()].map(i => N + i), st.got.filter(r => r.partition === p).map(r => r.offset),
          `offsets the new member read on partition ${p}`)
      }
      checkEq(second.slice().sort(), st.got.map(r => r.value).sort(), 'values the new member read')
    } finally {
      await st.consumer.disconnect()
    }
    return `resumed at ${N}, read exactly ${second.length} new records`
  } finally {
    await admin.disconnect()
  }
}

const SCENARIOS = {
  admin: scenarioAdmin,
  'group-consume': scenarioGroupConsume,
  'group-split': scenarioGroupSplit,
  'commit-resume': scenarioCommitResume
}

async function main () {
  if (!BOOTSTRAP) {
    console.error('usage: node compat.js BOOTSTRAP [scenario ...]')
    return 2
  }
  const names = process.argv.slice(3).length ? process.argv.slice(3) : Object.keys(SCENARIOS)
  const version = require('kafkajs/package.json').version
  console.log(`[kafkajs] client version ${version}`)
  const results = process.env.COMPAT_RESULTS
  let failed = 0
  for (const name of names) {
    const full = `kafkajs/${name}`
    const t0 = Date.now()
    let line
    let verdict
    try {
      if (!SCENARIOS[name]) throw new Mismatch(`unknown scenario ${name}`)
      const info = await SCENARIOS[name]()
      verdict = 'PASS'
      line = `PASS ${full} (${((Date.now() - t0) / 1000).toFixed(1)}s) ${info || ''}`
    } catch (e) {
      failed++
      verdict = 'FAIL'
      const kind = e instanceof Mismatch ? '' : `${e.name}: `
      line = `FAIL ${full} (${((Date.now() - t0) / 1000).toFixed(1)}s): ${kind}${e.message}`
      if (!(e instanceof Mismatch)) console.error(e.stack)
    }
    console.log(line)
    if (results) fs.appendFileSync(results, `${verdict} ${full}\n`)
  }
  console.log(`[kafkajs] ${names.length - failed} passed, ${failed} failed`)
  return failed ? 1 : 0
}

main().then(code => process.exit(code), e => { console.error(e); process.exit(1) })
