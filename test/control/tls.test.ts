import t from 'tap'
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Agent, request } from 'undici'
import { startController } from '../../lib/control/index.js'
import { silentLogger } from '../../lib/log.js'
import { start, tempDir } from './helpers.js'

const run = promisify(execFile)

t.test('serves HTTPS with --tls-cert/--tls-key', async (t) => {
  const dir = await tempDir(t)
  const cert = join(dir, 'cert.pem')
  const key = join(dir, 'key.pem')
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=weft-test', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert])
  const c = await start(t, { tlsCertFile: cert, tlsKeyFile: key })
  t.match(c.url, /^https:\/\/127\.0\.0\.1:\d+$/)
  const agent = new Agent({ connect: { ca: await readFile(cert) } })
  t.teardown(async () => await agent.close())
  const res = await request(`${c.url}/v1/info`, { dispatcher: agent })
  t.equal(res.statusCode, 200)
  t.match(await res.body.json(), { publicKey: c.publicKey })
})

t.test('a cert without a key is a config error', async (t) => {
  await t.rejects(startController({ dataDir: join(await tempDir(t), 'd'), listen: '127.0.0.1:0', log: silentLogger(), tlsCertFile: '/nonexistent' }), { code: 'WEFT_ERR_CONFIG', message: /--tls-cert and --tls-key go together/ })
})
