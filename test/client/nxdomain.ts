/**
 * A DNS server that answers every query with NXDOMAIN, for tests that need a name that does not resolve
 * without asking any resolver off this machine. Run inside a test's namespace:
 * `node nxdomain.js 127.0.0.1 53`; prints `ready` once bound.
 */
import { createSocket } from 'node:dgram'

/** The answer to `query`: same id and question, QR and RA set, RD copied, RCODE 3 (NXDOMAIN), no records. */
export function nxdomain (query: Buffer): Buffer | null {
  if (query.length < 12) return null
  let at = 12
  while (at < query.length && query[at] !== 0) at += 1 + query[at]!
  const end = at + 1 + 4
  if (end > query.length) return null
  const out = Buffer.from(query.subarray(0, end))
  out[2] = 0x80 | (query[2]! & 0x79) // QR, opcode and RD from the query
  out[3] = 0x80 | 3 // RA, NXDOMAIN
  out.writeUInt16BE(1, 4)
  out.writeUInt32BE(0, 6)
  out.writeUInt16BE(0, 10)
  return out
}

if (process.argv[1]?.endsWith('nxdomain.js') === true) {
  const [host = '127.0.0.1', port = '53'] = process.argv.slice(2)
  const sock = createSocket('udp4')
  sock.on('message', (msg, from) => {
    const reply = nxdomain(msg)
    if (reply !== null) sock.send(reply, from.port, from.address)
  })
  sock.bind(Number(port), host, () => process.stdout.write('ready\n'))
}
