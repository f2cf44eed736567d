import t from 'tap'
import { namingProblems, parseProm, sampleValue } from '../prom-text.js'
import { WEFT_VERSION } from '../../lib/version.js'
import { joinNode, start } from './helpers.js'

t.test('/metrics: process metrics, weft_build_info, and synced batches as a counter with _total', async (t) => {
  const c = await start(t)
  await joinNode(c, 'metrics-node')
  const res = await fetch(new URL('/metrics', c.url))
  t.equal(res.status, 200)
  t.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
  const fam = parseProm(await res.text())
  t.equal(fam.get('weft_store_synced_batches_total')?.type, 'counter')
  t.ok((sampleValue(fam, 'weft_store_synced_batches_total') ?? 0) >= 1, 'the registration was one synced batch at least')
  t.notOk(fam.has('weft_store_synced_batches'), 'no gauge of the same count under a counter-less name')
  t.equal(sampleValue(fam, 'weft_build_info', { version: WEFT_VERSION, nodejs: process.version }), 1)
  t.equal(fam.get('process_cpu_seconds_total')?.type, 'counter')
  t.ok((sampleValue(fam, 'process_cpu_seconds_total') ?? 0) > 0)
  t.ok((sampleValue(fam, 'process_resident_memory_bytes') ?? 0) > 10 * 1024 * 1024)
  const started = sampleValue(fam, 'process_start_time_seconds') ?? 0
  t.ok(Math.abs(started - Date.now() / 1000) < 3600, 'start time in seconds since the epoch')
  t.ok((sampleValue(fam, 'process_open_fds') ?? 0) > 0)
  t.equal(sampleValue(fam, 'weft_nodes', { health: 'online' }), 1)
})

t.test('every controller metric follows the Prometheus naming conventions', async (t) => {
  const c = await start(t)
  const fam = parseProm(await (await fetch(new URL('/metrics', c.url))).text())
  t.same(namingProblems(fam.values()), [])
})
