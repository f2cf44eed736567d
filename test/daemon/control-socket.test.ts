import t from 'tap'
import { stat } from 'node:fs/promises'
import { createConnection } from 'node:net'
import { join } from 'node:path'
import { ManualClock, systemClock } from '../../lib/clock.js'
import { askLocal, serveLocal } from '../../lib/daemon/control-socket.js'
import { silentLogger } from '../../lib/log.js'
import { tempDir } from '../control/helpers.js'

t.test('answers status and leave over a 0600 unix socket, errors as refusals', async (t) => {
  const path = join(await tempDir(t), 'weft.sock')
  let left = false
  const server = await serveLocal(path, {
    status: async () => ({ hello: 'world' }),
    leave: async () => { left = true; throw new Error('cannot leave now') },
    set: async req => ({ got: req.prefs })
  }, silentLogger())
  t.teardown(() => { server.close() })
  t.equal((await stat(path)).mode & 0o777, 0o600)
  t.same(await askLocal(path, { cmd: 'status' }, systemClock), { hello: 'world' })
  await t.rejects(askLocal(path, { cmd: 'leave' }, systemClock), { code: 'WEFT_ERR_DAEMON', message: /cannot leave now/ })
  t.ok(left)
  t.same(await askLocal(path, { cmd: 'set', prefs: { exitNode: 'auto' } }, systemClock), { got: { exitNode: 'auto' } }, 'a handler is given its request')
})

t.test('garbage requests get an error line, not a crash', async (t) => {
  const path = join(await tempDir(t), 'weft.sock')
  const server = await serveLocal(path, { status: async () => 1, leave: async () => 2, set: async () => 3 }, silentLogger())
  t.teardown(() => { server.close() })
  const raw = async (payload: string): Promise<string> => await new Promise((resolve) => {
    const s = createConnection(path)
    let buf = ''
    s.on('data', c => { buf += c.toString() })
    s.on('end', () => resolve(buf))
    s.write(payload)
  })
  t.match(await raw('nope\n'), /not JSON/)
  t.match(await raw('{"cmd":"format-disk"}\n'), /unknown command/)
  t.match(await raw('{"cmd":"hasOwnProperty"}\n'), /unknown command/, 'only the handlers\' own names are commands')
  t.match(await raw('null\n'), /not a JSON object/)
  t.match(await raw('x'.repeat(5000)), /too large/)
  t.same(await askLocal(path, { cmd: 'status' }, systemClock), 1, 'still serving')
})

t.test('no daemon: a clear sentence', async (t) => {
  await t.rejects(askLocal('/nonexistent/weft.sock', { cmd: 'status' }, systemClock), { message: /is the daemon running/ })
})

t.test('a daemon that accepts and never answers: askLocal gives up when its clock passes the timeout', async (t) => {
  const path = join(await tempDir(t), 'weft.sock')
  const server = await serveLocal(path, { status: async () => await new Promise(() => {}), leave: async () => 2, set: async () => 3 }, silentLogger())
  t.teardown(() => { server.close() })
  const clock = new ManualClock()
  let settled = false
  const outcome = askLocal(path, { cmd: 'status' }, clock, 10_000).then(() => null, (err: unknown) => err).finally(() => { settled = true })
  await clock.advanceAsync(9_999)
  t.equal(settled, false)
  await clock.advanceAsync(1)
  t.match(await outcome, { code: 'WEFT_ERR_DAEMON', message: /no answer from the daemon at .* within 10000 ms/ })
})
