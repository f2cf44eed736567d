import t from 'tap'
import { fromJson, policyRules, ruleArgs, ruleKey, RULE_PREF, type ExitPlan } from '../../lib/daemon/exit-routing.js'

const plan: ExitPlan = { table: 51820, controller: ['198.18.0.1'], underlay: ['198.18.0.7'], announcePort: 51821, allowLan: true }

t.test('bypass rules come before the tunnel rule, which sends everything WireGuard did not mark to the exit table', async (t) => {
  const rules = policyRules(plan)
  t.same(rules.map(r => ruleArgs(r).join(' ')), [
    `pref ${RULE_PREF.bypass} to 198.18.0.1 lookup main`,
    `pref ${RULE_PREF.bypass} from 198.18.0.7 lookup main`,
    `pref ${RULE_PREF.bypass} ipproto udp sport 51821 lookup main`,
    `pref ${RULE_PREF.lan} lookup main suppress_prefixlength 0`,
    `pref ${RULE_PREF.tunnel} not fwmark 51820 lookup 51820`
  ])
  t.notOk(policyRules({ ...plan, allowLan: false }).some(r => r.suppressDefault === true), 'no LAN access: no suppress rule')
})

t.test('IPv6 gets the same rules with its own addresses, and IPv4 never an IPv6 one', async (t) => {
  const dual: ExitPlan = { ...plan, controller: ['198.18.0.1', '2001:db8::1'], underlay: ['198.18.0.7', '2001:db8::7'] }
  t.same(policyRules(dual, 6).map(r => ruleArgs(r).join(' ')), [
    `pref ${RULE_PREF.bypass} to 2001:db8::1 lookup main`,
    `pref ${RULE_PREF.bypass} from 2001:db8::7 lookup main`,
    `pref ${RULE_PREF.bypass} ipproto udp sport 51821 lookup main`,
    `pref ${RULE_PREF.lan} lookup main suppress_prefixlength 0`,
    `pref ${RULE_PREF.tunnel} not fwmark 51820 lookup 51820`
  ])
  t.same(policyRules(dual, 4), policyRules(plan, 4))
  t.equal(ruleKey(fromJson({ priority: RULE_PREF.bypass, src: 'all', dst: '2001:db8::1', table: 'main' })!), ruleKey(policyRules(dual, 6)[0]!))
})

t.test('a rule and its `ip -j rule show` entry have the same key (as iproute2 prints them)', async (t) => {
  const shown = [
    { priority: RULE_PREF.bypass, src: 'all', dst: '198.18.0.1', table: 'main' },
    { priority: RULE_PREF.bypass, src: '198.18.0.7', table: 'main' },
    { priority: RULE_PREF.bypass, src: 'all', ipproto: 'udp', sport: 51821, table: 'main' },
    { priority: RULE_PREF.lan, src: 'all', table: 'main', suppress_prefixlen: 0 },
    { priority: RULE_PREF.tunnel, not: null, src: 'all', fwmark: '0xca6c', table: '51820' }
  ]
  t.same(shown.map(fromJson).map(r => r === null ? null : ruleKey(r)), policyRules(plan).map(ruleKey))
  t.equal(fromJson({ priority: 0, src: 'all' }), null, 'a rule without a table is none of ours')
})
