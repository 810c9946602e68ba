'use strict'
// KafkaJS over the SASL_SSL listener `odradek --dev --secure` makes, with its kafkajs.json
// (CA path, SCRAM-SHA-512 user): SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN produce + consume, and a
// wrong password refused.   usage: node secure.js SECURE_DIR SCENARIO
const fs = require('fs')
const { Kafka, logLevel } = require('kafkajs')

const [dir, scenario] = process.argv.slice(2)
const base = JSON.parse(fs.readFileSync(dir + '/kafkajs.json'))
const ssl = { ca: base.ssl.ca.map(p => fs.readFileSync(p, 'utf8')) }
const sasl = {
  'scram-sha-512': base.sasl,
  'scram-sha-256': { mechanism: 'scram-sha-256', username: 'alice', password: 'alice-secret' },
  plain: { mechanism: 'plain', username: 'alice', password: 'alice-secret' },
  'wrong-password': { mechanism: 'scram-sha-512', username: 'admin', password: 'nope' }
}[scenario]

async function main () {
  const kafka = new Kafka({ clientId: 'kafkajs-secure', brokers: base.brokers, ssl, sasl, logLevel: logLevel.NOTHING, retry: { retries: 2 } })
  const admin = kafka.admin()
  if (scenario === 'wrong-password') {
    try {
      await admin.connect()
      await admin.listTopics()
    } catch (e) {
      if (!/SASL|uthentication/.test(String(e))) throw new Error('expected an authentication error, got ' + e)
      console.log('refused as expected:', e.message)
      return
    }
    throw new Error('a wrong password was served')
  }
  const topic = 'kjs-' + scenario
  await admin.connect()
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] })
  await admin.disconnect()
  const producer = kafka.producer()
  await producer.connect()
  const values = Array.from({ length: 12 }, (_, i) => `${topic} ${i}`)
  await producer.send({ topic, acks: -1, messages: values.map(v => ({ key: 'k', value: v, partition: 0 })) })
  await producer.disconnect()
  const consumer = kafka.consumer({ groupId: 'g-' + topic })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  const got = []
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('read ' + JSON.stringify(got))), 30000)
    consumer.run({ eachMessage: async ({ message }) => { got.push(message.value.toString()); if (got.length === values.length) { clearTimeout(t); resolve() } } })
  })
  await consumer.disconnect()
  if (JSON.stringify(got) !== JSON.stringify(values)) throw new Error('read back ' + JSON.stringify(got))
}

main().then(() => { console.log('PASS kafkajs', scenario); process.exit(0) }, e => { console.log('FAIL kafkajs', scenario, e); process.exit(1) })
