import { PROTOCOL_VERSIONS } from '../lib/protocols.js'
import { WEFT_VERSION } from '../lib/version.js'
import { parseFlags, type Command } from './cli.js'

const USAGE = `Usage: weft version [--json]      (also: weft --version)

Prints the Weft version, the protocol versions it speaks (controller API, SWIM wire, underlay
announcement, registration proof) and the Node.js version it runs on.

  --json   print them as one JSON object
`

/** `weft version` and `weft --version`. */
export const command: Command = {
  summary: 'print the Weft, protocol and Node.js versions',
  async run (argv) {
    const p = parseFlags(argv, { json: { type: 'boolean' } }, USAGE)
    if (p === null) return 0
    const v = { weft: WEFT_VERSION, ...PROTOCOL_VERSIONS, node: process.version }
    if (p.values.json === true) {
      process.stdout.write(JSON.stringify(v) + '\n')
      return 0
    }
    const rows: Array<[string, string | number]> = [['controller API', v.api], ['SWIM wire', v.swimWire],
      ['underlay announcement', v.underlayAnnouncement], ['registration proof', v.registrationProof], ['Node.js', v.node]]
    process.stdout.write(`weft ${v.weft}\n` + rows.map(([k, x]) => `  ${k.padEnd(23)}${x}\n`).join(''))
    return 0
  }
}
