'use strict'
// The web console in headless Chromium (playwright-core driving Debian's /usr/bin/chromium),
// against a broker run.sh started with --metrics-listen, filled here by KafkaJS.
//
// usage: node console.js BOOTSTRAP HTTP_BASE [scenario ...]
// Prints "PASS console/<name>" / "FAIL console/<name>: reason" per scenario, appends the verdicts
// to $COMPAT_RESULTS when set, saves a screenshot per page into $ARTIFACTS, exits 1 if any failed.
// Expected values come from the client (offsets the producer got back, what was consumed and
// committed) and, for what only the broker knows (cluster id, configs), from its /api/ answers.

const fs = require('fs')
const path = require('path')
const crypto = require('crypto')
const { Kafka, logLevel } = require('kafkajs')
const { chromium } = require('playwright-core')

const BOOTSTRAP = process.argv[2]
const HTTP = process.argv[3]
const ONLY = process.argv.slice(4)
const DEBUG = process.env.COMPAT_DEBUG === '1'
const ARTIFACTS = process.env.ARTIFACTS || '/tmp'

const suffix = crypto.randomBytes(3).toString('hex')
const TOPIC = `console-orders-${suffix}`
const TXN_TOPIC = `console-txn-${suffix}`
const TXN_ID = `console-txn-${suffix}`
const GROUP = `console-group-${suffix}`
const N = 30 // records, partition i % 3: 10 per partition
const CONSUME_PER_PARTITION = 4 // consumed and committed per partition: lag 6 per partition
const T0 = Date.now() - 120000 // record i has timestamp T0 + i s

class Mismatch extends Error {}
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))
function check (ok, what) { if (!ok) throw new Mismatch(what) }
function checkEq (expected, actual, what) {
  const e = JSON.stringify(expected); const a = JSON.stringify(actual)
  if (e !== a) throw new Mismatch(`${what}: expected ${e} but got ${a}`)
}
// polls fn (returning a value) until pred(value) holds; fails with the last value seen
async function waitFor (what, fn, pred, timeoutMs = 10000) {
  const end = Date.now() + timeoutMs
  let last
  for (;;) {
    try { last = await fn() } catch (e) { last = `(${e.message.split('\n')[0]})` }
    if (pred(last)) return last
    if (Date.now() > end) throw new Mismatch(`${what}: last seen ${JSON.stringify(last)}`)
    await sleep(200)
  }
}

const value = i => JSON.stringify({ id: i, name: `item-${i}`, price: i * 1.5, tags: ['a', 'b'], nested: { even: i % 2 === 0 } })
const key = i => `key-${i}`
const HTML_HEADER = '<b>bold</b><img src=x onerror="window.__xss=1">' // must show as text
const TXN_VALUE = Buffer.from([0xff, 0xfe, 0x00, 0x41]) // not UTF-8: the API's text is null
const recordsOf = p => [...Array(N).keys()].filter(i => i % 3 === p) // in offset order

async function http (p, opts = {}) {
  const r = await fetch(HTTP + p, { redirect: 'manual', ...opts })
  const text = await r.text()
  let json
  try { json = JSON.parse(text) } catch (_) {}
  return { status: r.status, headers: r.headers, text, json }
}
async function apiJson (p) {
  const r = await http('/api/' + p)
  if (r.status !== 200 || r.json === undefined) throw new Mismatch(`GET /api/${p} answered ${r.status}: ${r.text.slice(0, 200)}`)
  return r.json
}

// --- data, with KafkaJS -------------------------------------------------------------------
const kafka = new Kafka({
  clientId: 'console-test',
  brokers: [BOOTSTRAP],
  connectionTimeout: 5000,
  requestTimeout: 15000,
  retry: { retries: 5, initialRetryTime: 200 },
  logLevel: DEBUG ? logLevel.DEBUG : logLevel.WARN,
  logCreator: () => ({ namespace, label, log }) => {
    const { message, ...extra } = log
    if (!DEBUG && /rebalanc/i.test(`${message} ${extra.error || ''}`)) return
    console.error(`[kafkajs ${label}] ${namespace}: ${message} ${JSON.stringify(extra)}`)
  }
})

const fixture = { hw: {}, consumer: null, admin: null }

async function makeData () {
  const admin = kafka.admin()
  await admin.connect()
  fixture.admin = admin
  check(await admin.createTopics({ waitForLeaders: true, topics: [{ topic: TOPIC, numPartitions: 3 }, { topic: TXN_TOPIC, numPartitions: 1 }] }), 'createTopics returned false')

  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
  const messages = [...Array(N).keys()].map(i => ({
    partition: i % 3, key: key(i), value: value(i), timestamp: String(T0 + i * 1000),
    headers: { 'trace-id': `trace-${i}`, source: 'console-test', html: HTML_HEADER }
  }))
  const meta = await producer.send({ topic: TOPIC, acks: -1, messages })
  for (const m of meta) {
    checkEq(0, m.errorCode, `produce error on partition ${m.partition}`)
    fixture.hw[m.partition] = Number(m.baseOffset) + recordsOf(m.partition).length
  }
  checkEq([0, 1, 2], Object.keys(fixture.hw).map(Number).sort(), 'partitions acked')
  await producer.disconnect()
  console.log(`[console] produced ${N} records to ${TOPIC}; high watermarks from the acks: ${JSON.stringify(fixture.hw)}`)

  const tp = kafka.producer({ transactionalId: TXN_ID, idempotent: true, maxInFlightRequests: 1 })
  await tp.connect()
  const txn = await tp.transaction()
  await txn.send({ topic: TXN_TOPIC, messages: [{ key: 'txn-key', value: TXN_VALUE }] })
  await txn.commit()
  await tp.disconnect()
  console.log(`[console] committed one transaction (${TXN_ID}) to ${TXN_TOPIC}`)

  // one member, stays connected (Stable) while the pages are checked; commits exactly
  // CONSUME_PER_PARTITION records of each partition, then pauses that partition
  const consumer = kafka.consumer({ groupId: GROUP, sessionTimeout: 30000, heartbeatInterval: 1000, maxWaitTimeInMs: 500 })
  fixture.consumer = consumer
  await consumer.connect()
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true })
  const done = {}
  let resolveAll
  const allDone = new Promise(resolve => { resolveAll = resolve })
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ topic, partition, message }) => {
      const o = Number(message.offset)
      if (o >= CONSUME_PER_PARTITION) { consumer.pause([{ topic, partitions: [partition] }]); return }
      await consumer.commitOffsets([{ topic, partition, offset: String(o + 1) }])
      if (o + 1 === CONSUME_PER_PARTITION) {
        done[partition] = true
        consumer.pause([{ topic, partitions: [partition] }])
        if (Object.keys(done).length === 3) resolveAll()
      }
    }
  })
  await Promise.race([allDone, sleep(30000).then(() => { throw new Mismatch(`consumer committed only partitions ${JSON.stringify(Object.keys(done))} within 30 s`) })])
  console.log(`[console] group ${GROUP} consumed and committed ${CONSUME_PER_PARTITION} per partition (lag ${N - 3 * CONSUME_PER_PARTITION})`)
}

// --- the browser ----------------------------------------------------------------------------
const results = []
const pageErrors = []
let expected404 = false // set while a scenario asks for an unknown topic/group on purpose
let shotNo = 0

function record (verdict, name, reason) {
  const line = `${verdict} console/${name}${reason ? (verdict === 'PASS' ? ' ' : ': ') + reason : ''}`
  console.log(line)
  results.push(verdict)
  if (process.env.COMPAT_RESULTS) fs.appendFileSync(process.env.COMPAT_RESULTS, `${verdict} console/${name}\n`)
}

async function shot (page, name) {
  const file = path.join(ARTIFACTS, `${String(++shotNo).padStart(2, '0')}-${name}.png`)
  try {
    await page.screenshot({ path: file, fullPage: true })
    console.log(`[console] screenshot ${file}`)
  } catch (e) {
    console.log(`[console] screenshot ${file} failed: ${e.message}`)
  }
}

async function open (page, route) {
  await page.goto(`${HTTP}/console/#${route}`)
  await loaded(page)
}
async function loaded (page) {
  await page.waitForFunction(() => {
    const m = document.getElementById('main')
    return m && m.getAttribute('data-loaded') !== 'loading'
  }, null, { timeout: 10000 })
}
const text = async (page, sel) => ((await page.locator(sel).first().textContent({ timeout: 3000 })) || '').trim()
const texts = async (page, sel) => (await page.locator(sel).allTextContents()).map(s => s.trim())
const noError = async page => {
  const n = await page.locator('[data-testid=error]').count()
  if (n) throw new Mismatch(`the page shows an error: ${await text(page, '[data-testid=error]')}`)
}

const scenarios = {
  async overview (page) {
    const ov = await apiJson('overview')
    await open(page, '/')
    await noError(page)
    checkEq(ov.cluster_id, await text(page, '[data-testid=cluster-id]'), 'cluster id')
    checkEq(String(ov.node_id), await text(page, '[data-testid=node-id]'), 'node id')
    checkEq(String(ov.topics), await text(page, '[data-testid=count-topics-n]'), 'topic count')
    checkEq(String(ov.partitions), await text(page, '[data-testid=count-partitions-n]'), 'partition count')
    check(ov.topics >= 2 && ov.partitions >= 4, `/api/overview counts ${ov.topics} topics, ${ov.partitions} partitions after 2 topics with 4 partitions were made`)
    checkEq(ov.listeners.map(l => l.address), await texts(page, '[data-testid=listener-row] [data-testid=listener-address]'), 'listener addresses')
    check(ov.listeners.some(l => l.address === BOOTSTRAP), `no listener ${BOOTSTRAP} in /api/overview: ${JSON.stringify(ov.listeners)}`)
    // the throughput chart gets lines once the broker has 2 samples (one per 2 s)
    await waitFor('throughput chart lines', () => page.locator('[data-testid=chart-bytes-line]').count(), n => n === 2, 10000)
    checkEq(2, await page.locator('[data-testid=chart-messages-line]').count(), 'messages chart lines')
    // the produce shows in the sample that covers it (taken every 2 s)
    await waitFor(`/api/throughput sample with messages_in > 0 after ${N + 1} records were produced`,
      async () => (await apiJson('throughput')).samples.slice(-4), ss => Array.isArray(ss) && ss.some(s => s.messages_in > 0), 6000)
    await open(page, '/')
    await waitFor('throughput chart lines', () => page.locator('[data-testid=chart-bytes-line]').count(), n => n === 2, 10000)
    // auto-refresh: the status line's time changes within ~2 s
    const before = await text(page, '[data-testid=status]')
    await waitFor('overview auto-refresh (status line)', () => text(page, '[data-testid=status]'), s => s !== before && /updated/.test(s), 6000)
    await shot(page, 'overview')
  },

  async topics (page) {
    const api = await apiJson('topics')
    const mine = api.find(t => t.name === TOPIC)
    check(mine, `${TOPIC} missing from /api/topics`)
    checkEq(N, mine.records, '/api/topics records')
    await open(page, '/topics')
    await noError(page)
    const row = `[data-testid=topic-row][data-topic="${TOPIC}"]`
    checkEq('3', await text(page, `${row} [data-testid=topic-partitions]`), 'partitions column')
    checkEq(String(N), await text(page, `${row} [data-testid=topic-records]`), 'records column')
    const visible = async () => (await page.locator('[data-testid=topic-row]').evaluateAll(rs => rs.map(r => r.getAttribute('data-topic')))).sort()
    const external = api.filter(t => !t.internal).map(t => t.name).sort()
    checkEq(external, await visible(), 'topics shown without internal ones')
    await page.locator('[data-testid=show-internal]').check()
    checkEq(api.map(t => t.name).sort(), await visible(), 'topics shown with internal ones')
    const internal = api.filter(t => t.internal).map(t => t.name)
    console.log(`[console] internal topics in /api/topics: ${JSON.stringify(internal)}`)
    await shot(page, 'topics')
    await page.locator('[data-testid=show-internal]').uncheck()
    await page.locator(`${row} [data-testid=topic-link]`).click()
    await loaded(page)
    checkEq(`#/topics/${TOPIC}`, await page.evaluate(() => location.hash), 'topic link')
  },

  async topic (page) {
    const api = await apiJson(`topics/${TOPIC}`)
    await open(page, `/topics/${TOPIC}`)
    await noError(page)
    checkEq(TOPIC, await text(page, '[data-testid=topic-title]'), 'title')
    checkEq(['0', '1', '2'], await texts(page, '[data-testid=partition-row] [data-testid=partition-id]'), 'partition ids')
    for (const p of [0, 1, 2]) {
      const row = `[data-testid=partition-row][data-partition="${p}"]`
      checkEq(String(fixture.hw[p]), await text(page, `${row} [data-testid=high-watermark]`), `partition ${p} high watermark (from the producer's acks)`)
      checkEq('0', await text(page, `${row} [data-testid=log-start]`), `partition ${p} log start`)
      checkEq(String(fixture.hw[p]), await text(page, `${row} [data-testid=lso]`), `partition ${p} last stable offset (no transactions on this topic)`)
      const seg = Number(await text(page, `${row} [data-testid=segments]`))
      check(seg >= 1, `partition ${p} segments ${seg}`)
      const size = api.partitions.find(x => x.partition === p).size_bytes
      check(size > 0, `/api/topics/${TOPIC} partition ${p} size_bytes ${size} after 10 records`)
    }
    checkEq(Object.keys(api.configs).length, await page.locator('[data-testid=topic-config-row]').count(), 'config rows')
    check(Object.keys(api.configs).length > 0, `/api/topics/${TOPIC} has no configs`)
    await shot(page, 'topic')
  },

  async messages (page) {
    await open(page, `/topics/${TOPIC}/messages`)
    await noError(page)
    // partition 0 from the log start: records 0, 3, 6, ... in offset order
    const checkRecords = async (p, first, count) => {
      const want = recordsOf(p).slice(first, first + count)
      checkEq(want.map((_, j) => String(first + j)), await texts(page, '[data-testid=record] [data-testid=record-offset]'), `partition ${p} offsets`)
      checkEq(want.map(key), await texts(page, '[data-testid=record] [data-testid=record-key]'), `partition ${p} keys`)
      checkEq(want.map(value), await texts(page, '[data-testid=record] [data-testid=record-value]'), `partition ${p} values (text view)`)
      checkEq(want.map(i => new Date(T0 + i * 1000).toISOString()), await texts(page, '[data-testid=record] [data-testid=record-timestamp]'), `partition ${p} timestamps`)
      const hdr = await page.locator('[data-testid=record]').first().locator('[data-testid=record-header]').evaluateAll(hs =>
        hs.map(h => [h.querySelector('[data-testid=header-key]').textContent, h.querySelector('[data-testid=header-value]').textContent]))
      checkEq([['trace-id', `trace-${want[0]}`], ['source', 'console-test'], ['html', HTML_HEADER]], hdr, `partition ${p} first record's headers`)
      checkEq(0, await page.locator('[data-testid=records] img, [data-testid=header-value] *').count(), 'elements made from record data (escaping)')
      checkEq(undefined, await page.evaluate(() => window.__xss), 'script run from record data')
    }
    await checkRecords(0, 0, 10)
    await shot(page, 'messages-p0')

    // partition selector + limit, then the next page
    await page.locator('[data-testid=partition-select]').selectOption('1')
    await page.locator('[data-testid=limit]').fill('4')
    await page.locator('[data-testid=fetch-messages]').click()
    await waitFor('partition 1 page', () => page.evaluate(() => location.hash), h => /partition=1/.test(h))
    await loaded(page)
    await noError(page)
    await checkRecords(1, 0, 4)
    await page.locator('[data-testid=next-page]').click()
    await waitFor('next page', () => page.evaluate(() => location.hash), h => /offset=4/.test(h))
    await loaded(page)
    await checkRecords(1, 4, 4)

    // JSON view pretty-prints, Hex view dumps the bytes
    const first = page.locator('[data-testid=record]').first()
    const i = recordsOf(1)[4]
    await first.locator('[data-testid=view-json]').click()
    checkEq(JSON.stringify(JSON.parse(value(i)), null, 2), await first.locator('[data-testid=record-value]').textContent(), 'JSON view')
    checkEq('json', await first.locator('[data-testid=record-value]').getAttribute('data-view'), 'JSON view marker')
    await first.locator('[data-testid=view-hex]').click()
    const hex = await first.locator('[data-testid=record-value]').textContent()
    const wantHex = Buffer.from(value(i)).subarray(0, 8).toString('hex').replace(/(..)/g, '$1 ').trim()
    check(hex.startsWith('00000000  ' + wantHex), `hex view starts ${JSON.stringify(hex.slice(0, 40))}, expected ${wantHex}`)
    await first.locator('[data-testid=view-json]').click()
    await shot(page, 'messages-p1-json')

    // from a timestamp: record 15 (partition 0, offset 5) is the first at or after T0 + 15 s
    await page.locator('[data-testid=partition-select]').selectOption('0')
    await page.locator('[data-testid=mode-timestamp]').check()
    await page.locator('[data-testid=from-timestamp]').fill(new Date(T0 + 14500).toISOString())
    await page.locator('[data-testid=limit]').fill('3')
    await page.locator('[data-testid=fetch-messages]').click()
    await waitFor('timestamp page', () => page.evaluate(() => location.hash), h => /timestamp=/.test(h))
    await loaded(page)
    await noError(page)
    await checkRecords(0, 5, 3)

    // a transactional record whose value is not UTF-8: hex in every view, the marker skipped
    await open(page, `/topics/${TXN_TOPIC}/messages`)
    await noError(page)
    checkEq(['0'], await texts(page, '[data-testid=record] [data-testid=record-offset]'), `${TXN_TOPIC} offsets (the commit marker is not a record)`)
    checkEq(1, await page.locator('[data-testid=record-transactional]').count(), 'transactional tag')
    const bin = await text(page, '[data-testid=record-value]')
    check(bin.startsWith('00000000  ff fe 00 41'), `binary value shown as ${JSON.stringify(bin)}`)
    await shot(page, 'messages-binary')
  },

  async groups (page) {
    const lag = N - 3 * CONSUME_PER_PARTITION
    // the broker samples lag; wait until it agrees with what was committed
    const g = await waitFor(`/api/groups lag of ${GROUP}`, async () => (await apiJson('groups')).find(x => x.group_id === GROUP), x => x && x.lag === lag && x.members === 1)
    await open(page, '/groups')
    await noError(page)
    const row = `[data-testid=group-row][data-group="${GROUP}"]`
    checkEq(String(lag), await text(page, `${row} [data-testid=group-lag]`), 'lag column (produced - committed)')
    checkEq('1', await text(page, `${row} [data-testid=group-members]`), 'members column')
    checkEq(g.state, await text(page, `${row} [data-testid=group-state]`), 'state column')
    checkEq('Stable', g.state, '/api/groups state of a group with one connected member')
    checkEq('classic', await text(page, `${row} [data-testid=group-protocol]`), 'protocol column (KafkaJS: classic)')
    await shot(page, 'groups')
    await page.locator(`${row} [data-testid=group-link]`).click()
    await loaded(page)
    checkEq(`#/groups/${GROUP}`, await page.evaluate(() => location.hash), 'group link')
  },

  async group (page) {
    const api = await apiJson(`groups/${GROUP}`)
    await open(page, `/groups/${GROUP}`)
    await noError(page)
    checkEq(GROUP, await text(page, '[data-testid=group-title]'), 'title')
    checkEq('Stable', await text(page, '[data-testid=group-state]'), 'state')
    checkEq(1, await page.locator('[data-testid=member-row]').count(), 'member rows')
    checkEq('console-test', await text(page, '[data-testid=member-client-id]'), 'member client id (the Kafka client id)')
    const host = await text(page, '[data-testid=member-host]')
    check(host.includes('127.0.0.1'), `member host ${JSON.stringify(host)}`)
    checkEq(`${TOPIC}: 0, 1, 2`, await text(page, '[data-testid=member-assignment]'), 'assignment')
    for (const p of [0, 1, 2]) {
      const row = `[data-testid=offset-row][data-topic="${TOPIC}"][data-partition="${p}"]`
      checkEq(String(CONSUME_PER_PARTITION), await text(page, `${row} [data-testid=offset-committed]`), `partition ${p} committed`)
      checkEq(String(fixture.hw[p]), await text(page, `${row} [data-testid=offset-hw]`), `partition ${p} high watermark`)
      checkEq(String(fixture.hw[p] - CONSUME_PER_PARTITION), await text(page, `${row} [data-testid=offset-lag]`), `partition ${p} lag`)
      const lt = await text(page, `${row} [data-testid=offset-lag-time]`)
      check(/\d/.test(lt) && !/^0 ms$/.test(lt), `partition ${p} lag time ${JSON.stringify(lt)} (the first unconsumed record is > 100 s old)`)
    }
    const o = api.offsets.find(x => x.partition === 0 && x.topic === TOPIC)
    const age = Date.now() - (T0 + recordsOf(0)[CONSUME_PER_PARTITION] * 1000)
    check(o && Math.abs(o.lag_ms - age) < 15000, `/api/groups/${GROUP} lag_ms ${o && o.lag_ms} for partition 0; the first unconsumed record is ${age} ms old`)
    checkEq(String(N - 3 * CONSUME_PER_PARTITION), await text(page, '[data-testid=group-total-lag]'), 'total lag')
    check(await page.locator('[data-testid=lag-chart]').count() === 1, 'no lag chart')
    console.log(`[console] group history: ${api.history.length} samples, last ${JSON.stringify(api.history.slice(-2))}`)
    if (api.history.length >= 2) checkEq(1, await page.locator('[data-testid=lag-chart-line]').count(), 'lag chart line')
    await shot(page, 'group')
  },

  async transactions (page) {
    const api = await apiJson('transactions')
    await open(page, '/transactions')
    await noError(page)
    const shown = await page.locator('[data-testid=txn-row]').evaluateAll(rs => rs.map(r => r.getAttribute('data-txn')))
    checkEq(api.map(t => t.transactional_id).sort(), shown.sort(), 'transaction rows = /api/transactions')
    const t = api.find(x => x.transactional_id === TXN_ID)
    check(t, `${TXN_ID} (committed) not in /api/transactions: ${JSON.stringify(api)}`)
    checkEq(t.state, await text(page, `[data-testid=txn-row][data-txn="${TXN_ID}"] [data-testid=txn-state]`), 'state')
    await shot(page, 'transactions')
  },

  async configs (page) {
    const api = await apiJson('configs')
    await open(page, '/configs')
    await noError(page)
    checkEq(api.length, await page.locator('[data-testid=config-row]').count(), 'config rows = /api/configs')
    const np = api.find(c => c.name === 'num.partitions')
    check(np, 'num.partitions not in /api/configs')
    const gd = api.find(c => c.name === 'group.initial.rebalance.delay.ms')
    check(gd && gd.value === '0' && gd.source !== 'default', `group.initial.rebalance.delay.ms (set to 0 with --set) in /api/configs: ${JSON.stringify(gd)}`)
    for (const c of api.filter(x => x.sensitive)) check(c.value === null, `sensitive ${c.name} has a value in /api/configs`)
    await page.locator('[data-testid=config-filter]').fill('rebalance')
    const names = await page.locator('[data-testid=config-row]').evaluateAll(rs => rs.map(r => r.getAttribute('data-name')))
    checkEq(api.filter(c => c.name.includes('rebalance') || (c.value || '').toLowerCase().includes('rebalance')).map(c => c.name).sort(), names.sort(), 'filtered rows')
    checkEq('0', await text(page, '[data-testid=config-row][data-name="group.initial.rebalance.delay.ms"] [data-testid=config-value]'), 'value')
    await shot(page, 'configs')
  },

  // DeleteRecords moves the log start: the topic page and the browser start there
  async 'log-start' (page) {
    const topic = `console-trim-${suffix}`
    check(await fixture.admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1 }] }), 'createTopics returned false')
    const producer = kafka.producer()
    await producer.connect()
    await producer.send({ topic, acks: -1, messages: [0, 1, 2, 3, 4].map(i => ({ partition: 0, key: `trim-${i}`, value: `v${i}` })) })
    await producer.disconnect()
    // KafkaJS looks the leader up in its metadata cache, which knows only fetched topics
    await fixture.admin.fetchTopicMetadata({ topics: [topic] })
    try {
      await fixture.admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '2' }] })
    } catch (e) {
      throw new Mismatch(`DeleteRecords to offset 2: ${e.message} ${JSON.stringify((e.partitions || []).map(x => [x.partition, x.offset, x.error && x.error.type]))}`)
    }
    const r = await http(`/api/topics/${topic}/messages?offset=0`)
    checkEq(200, r.status, `/api/topics/${topic}/messages?offset=0 status`)
    checkEq([2, 2, 5, [2, 3, 4], 5], [r.json.log_start_offset, r.json.records[0] && r.json.records[0].offset, r.json.high_watermark, r.json.records.map(x => x.offset), r.json.next_offset],
      'offset below the log start: [log_start_offset, first offset, high_watermark, offsets, next_offset]')
    await open(page, `/topics/${topic}`)
    await noError(page)
    checkEq('2', await text(page, '[data-testid=partition-row] [data-testid=log-start]'), 'log start after DeleteRecords')
    checkEq('3', await text(page, '[data-testid=partition-row] [data-testid=partition-records]'), 'records after DeleteRecords')
    await open(page, `/topics/${topic}/messages?partition=0&offset=0`)
    await noError(page)
    checkEq(['2', '3', '4'], await texts(page, '[data-testid=record] [data-testid=record-offset]'), 'browser from offset 0 after DeleteRecords')
    checkEq(['trim-2', 'trim-3', 'trim-4'], await texts(page, '[data-testid=record] [data-testid=record-key]'), 'keys')
    await shot(page, 'log-start')
  },

  async 'unknown-topic' (page) {
    expected404 = true
    try {
      for (const route of ['/topics/no-such-topic', '/topics/no-such-topic/messages', '/groups/no-such-group']) {
        await open(page, route)
        const err = await waitFor(`error message on #${route}`, () => text(page, '[data-testid=error]'), s => s.length > 0, 5000)
        check(/404/.test(err), `#${route} shows ${JSON.stringify(err)} (expected the 404 and the broker's message)`)
        check(await page.locator('nav [data-testid=nav-topics]').isVisible(), 'navigation not visible')
        if (route === '/topics/no-such-topic') await shot(page, 'unknown-topic')
      }
      // a bad message query (a non-numeric offset in the URL) shows the broker's 400 below the form
      await open(page, `/topics/${TOPIC}/messages?offset=abc`)
      const err = await waitFor('error message for offset=abc', () => text(page, '[data-testid=error]'), s => s.length > 0, 5000)
      check(/400/.test(err), `offset=abc shows ${JSON.stringify(err)}`)
      check(await page.locator('[data-testid=messages-form]').isVisible(), 'the form is gone after a 400')
      await open(page, '/no-such-page')
      await waitFor('error on an unknown route', () => text(page, '[data-testid=error]'), s => s.length > 0, 5000)
    } finally {
      await sleep(200)
      expected404 = false
    }
  },

  // the API the console relies on, directly (the contract's status codes and shapes)
  async api () {
    const problems = []
    const expect = async (p, status, opts, extra) => {
      const r = await http(p, opts)
      if (r.status !== status) problems.push(`${opts && opts.method ? opts.method : 'GET'} ${p} answered ${r.status} (expected ${status}): ${r.text.slice(0, 120)}`)
      else if (status >= 400 && p.startsWith('/api/') && !(r.json && typeof r.json.error === 'string')) problems.push(`${p} ${status} body is not {"error": ...}: ${r.text.slice(0, 120)}`)
      else if (extra) { const why = extra(r); if (why) problems.push(`${p}: ${why}`) }
      return r
    }
    await expect('/healthz', 200)
    await expect('/readyz', 200, undefined, r => (r.json && r.json.status === 'ready' ? null : `body ${r.text}`))
    await expect('/', 302, undefined, r => (/\/console\/$/.test(r.headers.get('location') || '') ? null : `Location ${r.headers.get('location')}`))
    await expect('/console/', 200, undefined, r => (/text\/html/.test(r.headers.get('content-type')) ? null : `content-type ${r.headers.get('content-type')}`))
    await expect('/console/app.js', 200, undefined, r => (/javascript/.test(r.headers.get('content-type')) ? null : `content-type ${r.headers.get('content-type')}`))
    await expect('/console/style.css', 200, undefined, r => (/text\/css/.test(r.headers.get('content-type')) ? null : `content-type ${r.headers.get('content-type')}`))
    await expect('/api/no-such-route', 404)
    await expect('/api/topics/no-such-topic', 404)
    await expect('/api/groups/no-such-group', 404)
    await expect('/api/overview', 405, { method: 'POST' })
    const m = `/api/topics/${TOPIC}/messages`
    await expect(`${m}?partition=abc`, 400)
    await expect(`${m}?partition=-1`, 400)
    await expect(`${m}?offset=-1`, 400)
    await expect(`${m}?limit=x`, 400)
    await expect(`${m}?timestamp=yesterday`, 400)
    await expect(`${m}?offset=1&timestamp=1`, 400)
    await expect(`${m}?partition=7`, 404)
    await expect('/api/topics/no-such-topic/messages', 404)
    await expect(`${m}?partition=2&offset=${fixture.hw[2]}`, 200, undefined, r => (r.json.records.length === 0 && r.json.next_offset === fixture.hw[2] ? null : `at the high watermark: ${r.text.slice(0, 200)}`))
    await expect(`${m}?partition=2&offset=1&limit=2`, 200, undefined, r => {
      const j = r.json
      const want = recordsOf(2).slice(1, 3)
      if (JSON.stringify(j.records.map(x => x.offset)) !== '[1,2]' || j.next_offset !== 3) return `offsets ${JSON.stringify(j.records.map(x => x.offset))} next ${j.next_offset}`
      if (j.records[0].key.text !== key(want[0]) || Buffer.from(j.records[0].key.base64, 'base64').toString() !== key(want[0])) return `key ${JSON.stringify(j.records[0].key)}`
      if (j.records[0].value.text !== value(want[0])) return `value ${JSON.stringify(j.records[0].value)}`
      if (j.records[0].timestamp !== T0 + want[0] * 1000 || j.records[0].timestamp_type !== 'CreateTime') return `timestamp ${j.records[0].timestamp} ${j.records[0].timestamp_type}`
      if (j.records[0].transactional !== false) return 'transactional is not false'
      return null
    })
    await expect(`${m}?partition=0&limit=500`, 200, undefined, r => (r.json.records.length === 10 ? null : `${r.json.records.length} records`))
    await expect(`/api/topics/${TXN_TOPIC}/messages`, 200, undefined, r => {
      const rs = r.json.records
      if (rs.length === 1 && (rs[0].value.text !== null || Buffer.from(rs[0].value.base64, 'base64').compare(TXN_VALUE) !== 0)) return `binary value ${JSON.stringify(rs[0].value)} (text must be null)`
      if (rs.length !== 1 || rs[0].transactional !== true) return `the committed transaction's topic: ${JSON.stringify(rs.map(x => [x.offset, x.transactional]))} (the marker must be skipped, the record transactional)`
      if (r.json.high_watermark !== 2) return `high watermark ${r.json.high_watermark} (1 record + 1 commit marker)`
      return null
    })
    const metrics = await http('/metrics')
    if (!/text\/plain/.test(metrics.headers.get('content-type'))) problems.push(`/metrics content-type ${metrics.headers.get('content-type')}`)
    const lagLine = new RegExp(`^kafka_consumergroup_lag\\{[^}]*consumergroup="${GROUP}"[^}]*\\} (\\S+)`, 'gm')
    const lags = [...metrics.text.matchAll(lagLine)].map(x => Number(x[1]))
    if (lags.reduce((a, b) => a + b, 0) !== N - 3 * CONSUME_PER_PARTITION) problems.push(`/metrics kafka_consumergroup_lag for ${GROUP}: ${JSON.stringify(lags)}`)
    // the console the binary embeds vs console/dist in this checkout
    const dist = path.join(__dirname, '..', '..', 'console', 'dist', 'app.js')
    if (fs.existsSync(dist)) {
      const served = (await http('/console/app.js')).text
      if (served !== fs.readFileSync(dist, 'utf8')) console.log('[console] NOTE: the broker serves an app.js that differs from console/dist/app.js (a binary built before the last console build)')
    }
    if (problems.length) throw new Mismatch(problems.join('; '))
  }
}

async function main () {
  await waitFor('/readyz 200', async () => (await http('/readyz')).status, s => s === 200, 15000)
  const names = ONLY.length ? ONLY : Object.keys(scenarios)
  try {
    await makeData()
    record('PASS', 'setup')
  } catch (e) {
    record('FAIL', 'setup', e.message)
    if (fixture.consumer) await fixture.consumer.disconnect().catch(() => {})
    if (fixture.admin) await fixture.admin.disconnect().catch(() => {})
    return 1
  }
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] })
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    page.setDefaultTimeout(10000)
    page.on('pageerror', e => pageErrors.push(`pageerror: ${e.message}`))
    page.on('console', m => {
      if (DEBUG) console.log(`[page ${m.type()}] ${m.text()}`)
      if (m.type() !== 'error') return
      if (expected404 && /status of 404/.test(m.text())) return
      if (expected404 && /status of 400/.test(m.text()) && /messages\?partition=0&offset=abc/.test((m.location() || {}).url || '')) return
      pageErrors.push(`console.error: ${m.text()} (${(m.location() || {}).url || ''})`)
    })
    page.on('dialog', d => { pageErrors.push(`dialog: ${d.message()}`); d.dismiss().catch(() => {}) })
    for (const name of names) {
      if (!scenarios[name]) { record('FAIL', name, 'no such scenario'); continue }
      const before = pageErrors.length
      const t = Date.now()
      try {
        await scenarios[name](page)
        if (pageErrors.length > before) throw new Mismatch(`errors in the page: ${pageErrors.slice(before).join(' | ')}`)
        record('PASS', name, `(${Date.now() - t} ms)`)
      } catch (e) {
        record('FAIL', name, e.message.split('\n').slice(0, 3).join(' '))
        if (name !== 'api') await shot(page, `FAIL-${name}`)
      }
    }
    if (!ONLY.length) {
      if (pageErrors.length) record('FAIL', 'no-page-errors', pageErrors.join(' | '))
      else record('PASS', 'no-page-errors')
    }
  } finally {
    await browser.close().catch(() => {})
    await fixture.consumer.disconnect().catch(() => {})
    await fixture.admin.disconnect().catch(() => {})
  }
  return results.includes('FAIL') ? 1 : 0
}

main().then(code => process.exit(code), e => {
  record('FAIL', 'run', e.stack || e.message)
  process.exit(1)
})
