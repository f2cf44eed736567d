/**
 * One controller at a time serves an etcd prefix (docs/store.md, "etcd"): the leader of an etcd election under
 * `<prefix>leader`, held by a lease of LEADER_TTL_S seconds on a client of its own, so that reopening the store
 * after a failed write never gives the lead away. A second controller started on the prefix waits, as a
 * standby, until the leader resigns (it stops) or its lease runs out (it died, or lost etcd), then loads the
 * store and serves. A leader whose lease is lost must stop at once: a standby may already lead.
 */
import { Etcd3, type Campaign } from 'etcd3'
import { StoreUnavailableError } from '../errors.js'
import { causeOf, clientOptions, type EtcdOptions } from './etcd-store.js'

/** How long a leader's claim outlives it, in seconds: the longest a standby waits after a leader died. */
export const LEADER_TTL_S = 5

export class EtcdLeader {
  private constructor (private readonly client: Etcd3, private readonly campaign: Campaign) {}

  /**
   * Resolves once this controller leads `o.prefix`, `whoami` being what the others see of it (`weft controller`
   * logs it while it waits). `onLost` is called once if the lead is lost later. Rejects with StoreUnavailableError
   * when etcd refuses the campaign.
   */
  static async take (o: EtcdOptions, whoami: string, onWait: (leader: string) => void, onLost: (why: string) => void): Promise<EtcdLeader> {
    const client = new Etcd3(await clientOptions(o))
    const election = client.election(`${o.prefix}leader`, LEADER_TTL_S)
    const campaign = election.campaign(whoami)
    let elected = false
    try {
      await new Promise<void>((resolve, reject) => {
        campaign.once('elected', () => { elected = true; resolve() })
        campaign.on('error', (err: Error) => {
          if (!elected) reject(new StoreUnavailableError(`cannot take the lead of etcd prefix ${o.prefix}: ${causeOf(err)}`, { cause: err }))
          else onLost(`lost the lead of etcd prefix ${o.prefix}: ${causeOf(err)}`)
        })
        void election.leader().then(l => { if (!elected && l !== undefined && l !== whoami) onWait(l) }, () => {})
      })
    } catch (err) {
      client.close()
      throw err
    }
    return new EtcdLeader(client, campaign)
  }

  /** Gives the lead up (a standby takes over at once) and closes the client. */
  async resign (): Promise<void> {
    await this.campaign.resign().catch(() => {})
    this.client.close()
  }
}
