import { readFileSync } from 'node:fs'

/** Weft's version, from package.json (two levels above the compiled lib/ file, in dist/ or in the source tree). */
export const WEFT_VERSION: string = (() => {
  for (const rel of ['../../package.json', '../package.json']) {
    try {
      const v = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string, version?: string }
      if (v.name === 'weft' && typeof v.version === 'string') return v.version
    } catch { /* try the next location */ }
  }
  return '0.0.0'
})()
