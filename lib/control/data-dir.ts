import { mkdir, open, readFile, rename, stat } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { DataDirError } from '../errors.js'
import { generateKeyPair, isWireGuardKey, publicKeyFor, type KeyPair } from '../wire/keys.js'
import { hashSecret, newSecret } from './auth.js'

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
      throw new DataDirError(`${path} is missing but the database was made with controller key ${knownPublicKey}; restore the file from a backup`)
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

/**
 * Returns the admin key's hash. First start: creates `admin.key` (0600, exclusive create) and returns
 * its hash; later starts return `knownHash`. A crash between writing the file and storing the hash is
 * healed by hashing the existing file.
 */
export async function loadAdminKeyHash (dir: string, knownHash: string | undefined): Promise<{ hash: string, created: boolean }> {
  if (knownHash !== undefined) return { hash: knownHash, created: false }
  const path = join(dir, 'admin.key')
  const existing = await readIfExists(path)
  if (existing !== null && existing.trim() !== '') return { hash: hashSecret(existing.trim()), created: false }
  const key = newSecret('wa_')
  await writeSecretFile(path, key + '\n')
  return { hash: hashSecret(key), created: true }
}
