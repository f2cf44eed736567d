import type { NodeRecord } from '../../lib/wire/netmap.js'
import type { DesiredPeer } from '../../lib/daemon/desired.js'

/** Node i of a test netmap: id n<i>, host h<i>, mesh IP 100.64.0.<i+1>, underlay 198.18.1.<i+1>:51820, online. */
export function nodeRecord (i: number, publicKey: string, over: Partial<NodeRecord> = {}): NodeRecord {
  return {
    id: `n${i}`,
    hostname: `h${i}`,
    publicKey,
    meshIp: `100.64.0.${i + 1}`,
    endpoints: [`198.18.1.${i + 1}:51820`],
    observedEndpoint: null,
    swimPort: 7946,
    health: 'online',
    createdAt: 1,
    updatedAt: 1,
    ...over
  }
}

/** The desired peer for node i (see nodeRecord), hostname host-<i>, keepalive 25 s. */
export function desiredPeer (i: number, publicKey: string, over: Partial<DesiredPeer> = {}): DesiredPeer {
  return {
    nodeId: `n${i}`,
    hostname: `host-${i}`,
    meshIp: `100.64.0.${i + 1}`,
    publicKey,
    endpoint: `198.18.1.${i + 1}:51820`,
    allowedIps: [`100.64.0.${i + 1}/32`],
    keepaliveSeconds: 25,
    ...over
  }
}
