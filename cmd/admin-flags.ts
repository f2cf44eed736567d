import { systemClock } from '../lib/clock.js'
import { AdminClient, adminKeyFile, readAdminKey } from '../lib/control/admin-client.js'
import { checkTrustFits } from '../lib/client/trust.js'
import { parseControllerUrl } from '../lib/client/url.js'
import { DEFAULTS } from '../lib/control/config.js'
import { CONTROLLER_TRUST_FLAGS, CONTROLLER_TRUST_USAGE, controllerTrust } from './controller-flags.js'
import { splitList } from './cli.js'

/** The controller admin commands talk to unless told: one on this host at its default listen address. */
const DEFAULT_CONTROLLER_URL = `http://${DEFAULTS.listen}`

/** Flags every admin command takes. */
export const ADMIN_FLAGS = {
  controller: { type: 'string' },
  'admin-key': { type: 'string' },
  ...CONTROLLER_TRUST_FLAGS
} as const

/** Usage lines for ADMIN_FLAGS. */
export const ADMIN_USAGE = `  --controller URL[,URL...]  controller base URL with its scheme, and a proxy's path prefix if any;
                      several: the first that takes the connection (env WEFT_CONTROLLER; default
                      ${DEFAULT_CONTROLLER_URL})
  --admin-key FILE    file holding the admin key: the controller writes it to DATA/admin.key at its first start
                      (env WEFT_ADMIN_KEY_FILE; required)
${CONTROLLER_TRUST_USAGE}`

/** Builds an AdminClient from flags with env fallbacks; every bad value fails with a ConfigError naming its flag. */
export async function adminClient (v: {
  controller?: string
  'admin-key'?: string
  'controller-ca'?: string
  'controller-fingerprint'?: string
}): Promise<AdminClient> {
  const urls = splitList(v.controller ?? process.env.WEFT_CONTROLLER ?? DEFAULT_CONTROLLER_URL).map(u => parseControllerUrl(u))
  const trust = controllerTrust(v)
  for (const url of urls) checkTrustFits(url, trust)
  const keyFile = adminKeyFile(v['admin-key'], process.env.WEFT_ADMIN_KEY_FILE)
  return new AdminClient({ controllerUrls: urls.map(u => u.href), adminKey: await readAdminKey(keyFile), adminKeyFile: keyFile, trust }, systemClock)
}
