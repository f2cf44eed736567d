/**
 * A TCP end for tests that run in namespaces, started with `ip netns exec NS node tcp-peer.js ...`:
 *
 * - `listen PORT...`: echoes every line back on each port; prints `listening` once all listen.
 * - `try HOST PORT`: one connection attempt; prints `connected` (exit 0), `refused` (exit 1) or `timeout` (exit 2,
 *   after 1.5 s: the SYN was dropped).
 * - `hold HOST PORT`: connects, then sends a numbered line every 100 ms and expects it back; prints `connected`,
 *   then `echo N` for each answer, and `lost: REASON` when the connection closes or an answer is 2 s late.
 */
import { createServer, connect } from 'node:net'
import { createInterface } from 'node:readline'

const [mode, ...args] = process.argv.slice(2)

if (mode === 'listen') {
  let open = 0
  for (const port of args.map(Number)) {
    const server = createServer(sock => { sock.on('error', () => {}); sock.pipe(sock) })
    server.listen(port, () => { if (++open === args.length) console.log('listening') })
  }
} else if (mode === 'try') {
  const sock = connect({ host: args[0]!, port: Number(args[1]) })
  const timer = setTimeout(() => { console.log('timeout'); process.exit(2) }, 1500)
  sock.on('connect', () => { clearTimeout(timer); console.log('connected'); sock.destroy(); process.exit(0) })
  sock.on('error', (err: NodeJS.ErrnoException) => {
    clearTimeout(timer)
    console.log(err.code === 'ECONNREFUSED' ? 'refused' : `error ${err.code ?? err.message}`)
    process.exit(1)
  })
} else if (mode === 'hold') {
  const sock = connect({ host: args[0]!, port: Number(args[1]) })
  let sent = 0
  let last = Date.now()
  const lost = (why: string): never => { console.log(`lost: ${why}`); process.exit(1) }
  sock.on('error', err => lost(err.message))
  sock.on('close', () => lost('closed'))
  sock.on('connect', () => {
    console.log('connected')
    last = Date.now()
    setInterval(() => {
      if (Date.now() - last > 2000) lost('no answer for 2 s')
      sock.write(`${++sent}\n`)
    }, 100)
  })
  createInterface({ input: sock }).on('line', line => { last = Date.now(); console.log(`echo ${line}`) })
} else {
  console.error('usage: tcp-peer listen PORT... | try HOST PORT | hold HOST PORT')
  process.exit(64)
}
