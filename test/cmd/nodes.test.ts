import t from 'tap'
import { renderNodes } from '../../cmd/nodes.js'
import { call, joinNode, start } from '../control/helpers.js'
import { weft } from './weft-cli.js'
import { byHostname } from '../../lib/wire/netmap.js'
import type { NodeStatus } from '../../lib/wire/api.js'

const NOW = 1_700_000_100_000
const row = (id: string, hostname: string, o: Partial<NodeStatus> = {}): NodeStatus => ({
  id,
  hostname,
  publicKey: 'k',
  meshIp: '100.64.0.1',
  endpoints: ['198.18.1.1:51820'],
  observedEndpoint: '203.0.113.7:51820',
  swimPort: 7946,
  health: 'online',
  createdAt: 1,
  updatedAt: 1,
  lastSeenAt: NOW - 3000,
  connected: true,
  netmapVersion: 4,
  agentVersion: '0.1.0',
  healthReason: 'controller hears it; 3 of 3 peers see it',
  expiresAt: null,
  tokenId: null,
  routing: { advertised: [], approved: [], enabled: [], exitNode: { advertised: false, approved: false }, priority: 0 },
  tags: [],
  dnsName: `${hostname}.weft.internal`,
  control: { fresh: true, channelOpen: true, connectedSince: NOW - 60_000 },
  mesh: { reporters: 3, alive: 3, suspect: 0, dead: 0 },
  ...o
})

t.test('the ROUTES column marks routes awaiting approval', async (t) => {
  const out = renderNodes([row('n1', 'router', {
    routing: {
      advertised: ['192.0.2.0/24', '198.51.100.0/24'],
      approved: ['192.0.2.0/24'],
      enabled: ['192.0.2.0/24'],
      exitNode: { advertised: true, approved: false },
      priority: 5
    }
  })], NOW)
  t.match(out.split('\n')[1], /\s192\.0\.2\.0\/24,198\.51\.100\.0\/24\*,exit\*\s/)
})

t.test('nodes are ordered by hostname, then id', async (t) => {
  const nodes = [row('a1', 'zulu'), row('b2', 'alpha'), row('c3', 'mike'), row('a0', 'mike')]
  t.same(nodes.sort(byHostname).map(n => `${n.hostname}/${n.id}`), ['alpha/b2', 'mike/a0', 'mike/c3', 'zulu/a1'])
})

t.test('the table has advertised and observed endpoints in columns of their own, and the health reason', async (t) => {
  const out = renderNodes([
    row('n1', 'alpha'),
    row('n2', 'bravo', {
      endpoints: [],
      observedEndpoint: null,
      health: 'offline',
      healthReason: 'controller lost it and no peer reports',
      agentVersion: null,
      lastSeenAt: null,
      tags: ['tag:db', 'tag:prod']
    })
  ], NOW)
  const [head, r1, r2] = out.split('\n')
  t.match(head, /^HOSTNAME\s+NAME\s+ID\s+MESH IP\s+HEALTH\s+LAST SEEN\s+EXPIRES\s+VERSION\s+ADVERTISED\s+OBSERVED\s+ROUTES\s+TAGS\s+REASON$/)
  t.match(
    r1,
    /^alpha\s+alpha\.weft\.internal\s+n1\s+100\.64\.0\.1\s+online\s+3s ago\s+-\s+0\.1\.0\s+198\.18\.1\.1:51820\s+203\.0\.113\.7:51820\s+-\s+-\s+controller hears it; 3 of 3 peers see it$/
  )
  t.match(r2, /^bravo\s+bravo\.weft\.internal\s+n2\s+100\.64\.0\.1\s+offline\s+-\s+-\s+-\s+-\s+-\s+-\s+tag:db,tag:prod\s+controller lost it and no peer reports$/)
})

t.test('weft nodes tag sets a node\'s tags by name, --clear removes them, and nodes list shows them in TAGS', async (t) => {
  const c = await start(t)
  const admin = ['--controller', c.url, '--admin-key', c.adminKeyFile]
  const n = await joinNode(c, 'web-1')
  const set = await weft(['nodes', 'tag', 'web-1', 'tag:web', 'tag:prod', ...admin])
  t.equal(set.code, 0, set.stderr)
  t.equal(set.stdout, `web-1 (${n.nodeId}, ${n.meshIp}): tags tag:prod tag:web (were none)\n`)
  const list = await weft(['nodes', 'list', ...admin])
  t.match(list.stdout.split('\n')[1], /\s-\s+tag:prod,tag:web\s+controller/, 'ROUTES is -, then TAGS')
  t.same(JSON.parse((await weft(['nodes', 'list', '--json', ...admin])).stdout).nodes[0].tags, ['tag:prod', 'tag:web'])

  const usage = await weft(['nodes', 'tag', 'web-1', ...admin])
  t.equal(usage.code, 2, 'no tags and no --clear: nothing is cleared by accident')
  t.match(usage.stderr, /needs the tags to set \(tag:web \.\.\.\), or --clear to remove them all/)
  t.equal((await weft(['nodes', 'tag', 'web-1', 'tag:a', '--clear', ...admin])).code, 2)
  const malformed = await weft(['nodes', 'tag', 'web-1', 'web', ...admin])
  t.equal(malformed.code, 2)
  t.match(malformed.stderr, /"web" is not a tag such as tag:web/)
  t.equal((await weft(['nodes', 'list', '--clear', ...admin])).code, 2, '--clear belongs to tag')

  t.equal((await call(c.url, 'PUT', '/v1/policy', { text: '{ "tagOwners": { "tag:web": ["autogroup:admin"] } }' }, c.adminKey)).status, 200)
  const undeclared = await weft(['nodes', 'tag', 'web-1', 'tag:web', 'tag:ops', ...admin])
  t.equal(undeclared.code, 1)
  t.match(undeclared.stderr, /HTTP 400: tag:ops is not declared in the access policy's "tagOwners" \(version 1\)/)
  const cleared = await weft(['nodes', 'tag', n.meshIp, '--clear', ...admin])
  t.equal(cleared.stdout, `web-1 (${n.nodeId}, ${n.meshIp}): no tags (were tag:prod tag:web)\n`)
})
