import t from 'tap'
import { cutScript } from '../../../sim/netns/nft.js'

t.test('cutScript: every cut in one bridge table, dropped both ways where the bridge forwards', async t => {
  const s = cutScript([[['198.18.1.1', '198.18.1.3'], ['198.18.1.2']], [['198.18.1.4'], ['198.18.1.5']]])
  t.match(s, /^table bridge weft_cut\ndelete table bridge weft_cut\ntable bridge weft_cut \{/, 'replaces the whole table in one transaction')
  t.match(s, /set a0 \{ type ipv4_addr; elements = \{ 198\.18\.1\.1, 198\.18\.1\.3 \} \}/)
  t.match(s, /set b1 \{ type ipv4_addr; elements = \{ 198\.18\.1\.5 \} \}/)
  t.match(s, /type filter hook forward priority 0; policy accept;/)
  for (const k of [0, 1]) {
    t.match(s, new RegExp(`ip saddr @a${k} ip daddr @b${k} drop`))
    t.match(s, new RegExp(`ip saddr @b${k} ip daddr @a${k} drop`))
  }
})

t.test('cutScript: no cuts removes the table; an address that is not IPv4 is refused', async t => {
  t.equal(cutScript([]), 'table bridge weft_cut\ndelete table bridge weft_cut\n')
  t.throws(() => cutScript([[['198.18.1.1'], ['2001:db8::1']]]), /not IPv4/)
  t.throws(() => cutScript([[['198.18.1.1; flush ruleset'], ['198.18.1.2']]]), /not IPv4/)
})
