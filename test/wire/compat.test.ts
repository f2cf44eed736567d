import t from 'tap'
import { checkControllerProtocols, ownProtocols } from '../../lib/wire/compat.js'

t.test('the same API and proof pass; a controller that predates the check is taken as it is', async (t) => {
  t.doesNotThrow(() => checkControllerProtocols(ownProtocols(), 'http://c'))
  t.doesNotThrow(() => checkControllerProtocols({ ...ownProtocols(), weft: '9.9.9' }, 'http://c'), 'another release with the same protocols')
  t.doesNotThrow(() => checkControllerProtocols(undefined, 'http://c'))
})

t.test('another API or proof is refused, naming only what differs', async (t) => {
  t.throws(() => checkControllerProtocols({ ...ownProtocols(), api: 'v2' }, 'http://c'), { message: /speaks API v2 \(this node: v1\); this node runs/ })
  t.throws(() => checkControllerProtocols({ ...ownProtocols(), registrationProof: 'weft-register-v1' }, 'http://c'),
    { message: /speaks registration proof weft-register-v1 \(this node: weft-register-v2\); / })
})
