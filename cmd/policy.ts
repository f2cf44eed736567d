import { readFile, writeFile } from 'node:fs/promises'
import { ConfigError, PolicyError } from '../lib/errors.js'
import { parsePolicy } from '../lib/policy/document.js'
import { runTests } from '../lib/policy/evaluate.js'
import type { PolicyTestResponse } from '../lib/wire/api.js'
import { ADMIN_FLAGS, ADMIN_USAGE, adminClient } from './admin-flags.js'
import { parseFlags, parseIntFlag, type Command } from './cli.js'

const USAGE = `Usage: weft policy check FILE
       weft policy get [--out FILE] [--json]
       weft policy set FILE [--if-version N] [--json]
       weft policy test SRC DST:PORT [--proto tcp|udp|icmp] [--json]

The access policy (docs/policy.md): which nodes may reach which ports of which others. Without one, every
node reaches every port of every other.

check   checks a document without a controller: JSON with comments and trailing commas; groups, tagOwners,
        hosts, acls and tests. Prints what it holds and runs its tests, or says at which line and column it
        is wrong and exits 1. Node names in tests stand for nodes with no tags or known address.
get     prints the policy in force exactly as it was set, so \`weft policy get > FILE\` gives the document
        back; its version, time and sha256 go to stderr. Exits 1 when none was ever set.
set     sends FILE to the controller, which checks it as check does and also against its nodes: every
        hostname it uses must be a node's, and its tests run on the real nodes with their tags. It then
        stores it with the next version and sends it to every daemon; prints that version. A document it
        refuses exits 1 with FILE:line:column and why, and the policy in force stays. Setting the text in
        force again changes nothing.
test    what the policy in force does with SRC's traffic to DST on PORT: one line per pair of endpoints,
        accept or deny, with the rule that accepts and its line. SRC and DST are *, a node's hostname or
        mesh IP (each node that has it), group:x (each member), tag:x (a node with that tag), a host of
        the policy, an IPv4 address or CIDR. Exits 0 whatever the answer.

Flags:
  --out FILE          get: write the document to FILE instead of stdout
  --if-version N      set: only if the version in force is N (0: none is set); otherwise exit 1 and change
                      nothing (someone else changed the policy since it was read)
  --proto P           test: tcp (default), udp or icmp; DST needs no port for icmp
  --json              get, set, test: the controller's answer as JSON
${ADMIN_USAGE}`

const plural = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`

/** `msg` of a PolicyError placed in `file`: `FILE:line:column: ...` when it has a location, `FILE: ...` otherwise. */
function inFile (file: string, msg: string): string {
  return /^\d+:\d+: /.test(msg) ? `${file}:${msg}` : `${file}: ${msg}`
}

async function read (file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8')
  } catch (err) {
    throw new ConfigError(`cannot read ${file}: ${(err as Error).message}`)
  }
}

/** What `weft policy test` prints: the version (or that none is set), then one line per pair of endpoints. */
export function renderPolicyTest (r: PolicyTestResponse): string {
  const what = r.proto === 'icmp' ? 'icmp' : `${r.proto} port ${r.port}`
  const head = r.version === null ? `no access policy is set: every flow is accepted (${what})` : `policy version ${r.version}, ${what}:`
  const pairs = r.flows.map(f => `${f.src} -> ${f.dst}`)
  const w = Math.max(...pairs.map(p => p.length))
  const lines = r.flows.map((f, i) => `${f.accept ? 'accept' : 'deny  '}  ${pairs[i]!.padEnd(w)}  ` +
    (f.rule !== null ? `rule ${f.rule} (line ${f.line ?? '?'})` : f.accept ? 'no policy' : 'no rule accepts it'))
  return [head, ...lines].join('\n') + '\n'
}

/** `weft policy check|get|set|test`. */
export const command: Command = {
  summary: 'check, read, set and ask the access policy',
  async run (argv) {
    const p = parseFlags(argv, {
      ...ADMIN_FLAGS,
      out: { type: 'string' },
      'if-version': { type: 'string' },
      proto: { type: 'string' },
      json: { type: 'boolean' }
    }, USAGE, true)
    if (p === null) return 0
    const [sub, ...args] = p.positionals
    const v = p.values
    const json = v.json === true
    const misplaced = ([['out', 'get'], ['if-version', 'set'], ['proto', 'test']] as const).find(([flag, owner]) => v[flag] !== undefined && sub !== owner)
    if (misplaced !== undefined) throw new ConfigError(`--${misplaced[0]} belongs to \`weft policy ${misplaced[1]}\`\n\n${USAGE}`)

    if (sub === 'check' && args.length === 1) {
      const file = args[0]!
      const text = await read(file)
      let summary: string
      try {
        const doc = parsePolicy(text)
        const tests = runTests(doc)
        summary = `${file}: ${plural(doc.groups.size, 'group')}, ${plural(doc.tagOwners.size, 'tag')}, ${plural(doc.hosts.size, 'host')}, ` +
          `${plural(doc.acls.length, 'rule')}; ${tests === 0 ? 'no tests' : tests === 1 ? '1 test passes' : `${tests} tests pass`}`
      } catch (err) {
        if (err instanceof PolicyError) throw new PolicyError(inFile(file, err.message))
        throw err
      }
      process.stdout.write(summary + '\n')
      return 0
    }
    if (sub === 'get' && args.length === 0) {
      const info = await (await adminClient(v)).getPolicy()
      if (json) {
        process.stdout.write(JSON.stringify(info, null, 2) + '\n')
        return 0
      }
      if (v.out !== undefined) {
        try {
          await writeFile(v.out, info.text)
        } catch (err) {
          throw new ConfigError(`cannot write ${v.out}: ${(err as Error).message}`)
        }
      } else {
        process.stdout.write(info.text)
      }
      process.stderr.write(`policy version ${info.version}, set ${new Date(info.updatedAt).toISOString()}, sha256 ${info.sha256}` +
        `${v.out !== undefined ? `; written to ${v.out}` : ''}\n`)
      return 0
    }
    if (sub === 'set' && args.length === 1) {
      const file = args[0]!
      const ifVersion = v['if-version'] === undefined ? undefined : parseIntFlag(v['if-version'], '--if-version', 0, Number.MAX_SAFE_INTEGER)
      const text = await read(file)
      const client = await adminClient(v)
      let r
      try {
        r = await client.setPolicy({ text, ...(ifVersion !== undefined ? { ifVersion } : {}) })
      } catch (err) {
        if (err instanceof PolicyError) throw new PolicyError(inFile(file, err.message))
        throw err
      }
      process.stdout.write(json
        ? JSON.stringify(r, null, 2) + '\n'
        : r.changed
          ? `policy version ${r.version} set from ${file} (sha256 ${r.sha256})\n`
          : `policy unchanged: version ${r.version} already holds the text of ${file}\n`)
      return 0
    }
    if (sub === 'test' && args.length === 2) {
      const proto = v.proto ?? 'tcp'
      if (proto !== 'tcp' && proto !== 'udp' && proto !== 'icmp') throw new ConfigError(`--proto must be tcp, udp or icmp (got "${proto}")`)
      const r = await (await adminClient(v)).testPolicy({ src: args[0]!, dst: args[1]!, proto })
      process.stdout.write(json ? JSON.stringify(r, null, 2) + '\n' : renderPolicyTest(r))
      return 0
    }
    throw new ConfigError(`give one subcommand: check FILE, get, set FILE or test SRC DST:PORT\n\n${USAGE}`)
  }
}
