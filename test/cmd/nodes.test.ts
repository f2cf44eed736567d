import t from 'tap'
import { renderNodes } from '../../cmd/nodes.js'
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
      lastSeenAt: null
    })
  ], NOW)
  const [head, r1, r2] = out.split('\n')
  t.match(head, /^HOSTNAME\s+ID\s+MESH IP\s+HEALTH\s+LAST SEEN\s+EXPIRES\s+VERSION\s+ADVERTISED\s+OBSERVED\s+ROUTES\s+REASON$/)
  t.match(
    r1,
    /^alpha\s+n1\s+100\.64\.0\.1\s+online\s+3s ago\s+-\s+0\.1\.0\s+198\.18\.1\.1:51820\s+203\.0\.113\.7:51820\s+-\s+controller hears it; 3 of 3 peers see it$/
  )
  t.match(r2, /^bravo\s+n2\s+100\.64\.0\.1\s+offline\s+-\s+-\s+-\s+-\s+-\s+-\s+controller lost it and no peer reports$/)
})
