/**
 * HostDns inside a test's namespace, with the real paths (/etc/resolv.conf, resolved's socket):
 *
 *   node host-dns-script.js apply|revert|probe --expect DEV:INO --state DIR [--manage] [--mesh-ip IP --domain D]
 *     prints HostDnsStatus (probe: HostProbe) as one JSON line; logs go to stderr.
 *   node host-dns-script.js serve --mesh-ip IP --domain D --answer IP
 *     answers A queries for names under D with IP on IP:53 (UDP), prints `ready`, then each question as `query NAME TYPE`.
 *
 * Every op but serve refuses to start unless /etc/resolv.conf is the file the test made for the namespace (same
 * device and inode as `--expect`), so a missing bind mount can never let it touch the host's own file.
 */
import { createSocket } from 'node:dgram'
import { statSync } from 'node:fs'
import { parseArgs } from 'node:util'
import dnsPacket from 'dns-packet'
import { systemClock } from '../../lib/clock.js'
import { createLogger } from '../../lib/log.js'
import { HostDns, RESOLV_CONF } from '../../lib/daemon/host-dns.js'
import { probeHost, RESOLVED_SOCKET } from '../../lib/daemon/host-dns-probe.js'
import { run } from '../../lib/daemon/wg/exec.js'

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    expect: { type: 'string' },
    state: { type: 'string' },
    manage: { type: 'boolean', default: false },
    'mesh-ip': { type: 'string', default: '100.64.0.3' },
    domain: { type: 'string', default: 'weft.internal' },
    answer: { type: 'string', default: '100.64.0.9' },
    ifname: { type: 'string', default: 'weft0' },
    socket: { type: 'string', default: RESOLVED_SOCKET }
  }
})
const op = positionals[0]
const target = { meshIp: values['mesh-ip'], domain: values.domain }

function serve (): void {
  const sock = createSocket('udp4')
  sock.on('message', (msg, rinfo) => {
    let q: dnsPacket.DecodedPacket
    try { q = dnsPacket.decode(msg) } catch { return }
    const question = q.questions?.[0]
    if (question === undefined) return
    const name = question.name.toLowerCase()
    process.stdout.write(`query ${name} ${question.type}\n`)
    const ours = name.endsWith(`.${target.domain}`)
    const answers: dnsPacket.Answer[] = ours && question.type === 'A' ? [{ type: 'A', name: question.name, ttl: 5, data: values.answer }] : []
    const reply = dnsPacket.encode({
      type: 'response',
      id: q.id,
      flags: dnsPacket.AUTHORITATIVE_ANSWER | (ours ? 0 : 5), // REFUSED for names not under the domain
      questions: q.questions,
      answers
    })
    sock.send(reply, rinfo.port, rinfo.address)
  })
  sock.bind(53, target.meshIp, () => process.stdout.write('ready\n'))
}

async function main (): Promise<void> {
  if (op === 'serve') { serve(); return }
  const st = statSync(RESOLV_CONF)
  if (values.expect !== `${st.dev}:${st.ino}`) {
    throw new Error(`${RESOLV_CONF} is ${st.dev}:${st.ino}, not the namespace's file ${String(values.expect)}; refusing to touch it`)
  }
  if (values.state === undefined) throw new Error('--state DIR is required')
  const log = createLogger({ level: 'debug', destination: process.stderr })
  if (op === 'probe') {
    const probe = await probeHost({ resolvConfPath: RESOLV_CONF, resolvedSocketPath: values.socket, path: process.env.PATH ?? '', run, clock: systemClock })
    process.stdout.write(JSON.stringify(probe) + '\n')
    return
  }
  const dns = await HostDns.open({
    ifname: values.ifname, stateDir: values.state, acceptDns: true, manageResolvConf: values.manage, clock: systemClock, log
  })
  const status = op === 'apply' ? await dns.apply(target) : op === 'revert' ? await dns.revert() : null
  if (status === null) throw new Error(`unknown op ${String(op)}`)
  process.stdout.write(JSON.stringify({ ...status, upstreams: await dns.upstreams() }) + '\n')
}

main().catch(err => {
  process.stderr.write(`${(err as Error).message}\n`)
  process.exitCode = 1
})
