import { mkdir, open, readFile, rename, stat } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { DataDirError } from '../errors.js'
import { generateKeyPair, isWireGuardKey, publicKeyFor, type KeyPair } from '../wire/keys.js'
import { hashSecret, newSecret, sameHash } from './auth.js'

/**
 * The controller's data directory: `db/` (LevelDB), `store-guard.json` (store-guard.ts), `controller.key`
 * (X25519 private key, 0600) and `admin.key` (the admin key, 0600, written for the operator; the controller
 * keeps only its hash).
 */

/** Creates `dir` (0700) if missing; throws DataDirError when it is not a usable directory. */
export async function ensureDataDir (dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 })
    const s = await stat(dir)
    if (!s.isDirectory()) throw new Error('not a directory')
  } catch (err) {
    throw new DataDirError(`data directory ${dir} cannot be used: ${(err as Error).message}`, { cause: err })
  }
}

/**
 * Writes `data` to `path` with `mode` via temp file, fsync, rename and an fsync of the directory, so a crash
 * leaves the old or the new content, never half, and a completed call survives power loss.
 */
export async function writeSecretFile (path: string, data: string, mode = 0o600): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`
  const fh = await open(tmp, 'w', mode)
  try {
    await fh.writeFile(data)
    await fh.sync()
  } finally {
    await fh.close()
  }
  await rename(tmp, path)
  const dir = await open(dirname(path), 'r')
  try {
    await dir.sync()
  } finally {
    await dir.close()
  }
}

async function readIfExists (path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw new DataDirError(`cannot read ${path}: ${(err as Error).message}`, { cause: err })
  }
}

/**
 * Loads `controller.key`, or creates it on first start. `knownPublicKey` (from the database) guards
 * against a lost or swapped key file, which would silently break every daemon's proof.
 */
export async function loadControllerKey (dir: string, knownPublicKey: string | undefined): Promise<{ keys: KeyPair, created: boolean }> {
  const path = join(dir, 'controller.key')
  const text = await readIfExists(path)
  if (text === null) {
    if (knownPublicKey !== undefined) {
      throw new DataDirError(`${path} is missing but the database was made with controller key ${knownPublicKey}; restore the file from a backup ` +
        '(on a store several controllers share: copy it, and admin.key, from one of them)')
    }
    const keys = generateKeyPair()
    await writeSecretFile(path, keys.privateKey + '\n')
    return { keys, created: true }
  }
  const privateKey = text.trim()
  if (!isWireGuardKey(privateKey)) throw new DataDirError(`${path} does not hold a WireGuard private key (44 base64 characters)`)
  const keys = { privateKey, publicKey: publicKeyFor(privateKey) }
  if (knownPublicKey !== undefined && knownPublicKey !== keys.publicKey) {
    throw new DataDirError(`${path} holds a different key than the one this database was made with (${knownPublicKey}); restore the right file`)
  }
  return { keys, created: false }
}

/** The admin key's hash to keep, and what was found or done to `DIR/admin.key`. */
export interface AdminKeyOutcome { hash: string, file: 'created' | 'rotated' | 'present' | 'missing' }

/**
 * Returns the admin key's hash and checks `DIR/admin.key` against `knownHash` (from the database).
 * First start: creates the file (0600), or hashes one left by a start that crashed before storing the hash.
 * `rotate`: writes a new key; the old one stops working once the returned hash is stored. A file holding
 * another key (edited, replaced, garbled) throws DataDirError saying how to restore or rotate; a missing file
 * is reported as `missing` (a copy of the key kept elsewhere still works).
 */
export async function loadAdminKey (dir: string, knownHash: string | undefined, rotate: boolean): Promise<AdminKeyOutcome> {
  const path = join(dir, 'admin.key')
  const existing = (await readIfExists(path))?.trim() ?? null
  if (rotate || knownHash === undefined) {
    if (!rotate && existing !== null && existing !== '') return { hash: hashSecret(existing), file: 'present' }
    const key = newSecret('wa_')
    await writeSecretFile(path, key + '\n')
    return { hash: hashSecret(key), file: rotate && knownHash !== undefined ? 'rotated' : 'created' }
  }
  if (existing === null) return { hash: knownHash, file: 'missing' }
  if (!sameHash(hashSecret(existing), knownHash)) {
    throw new DataDirError(`${path} does not hold this controller's admin key (its hash differs from the one in the database), so admin commands using it ` +
      'would get 401. ' +
      'Restore the file from a backup, delete it (a copy of the key kept elsewhere keeps working), or start the controller once with --rotate-admin-key ' +
      'to write a new admin key (the old one stops working)')
  }
  return { hash: knownHash, file: 'present' }
}
