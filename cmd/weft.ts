#!/usr/bin/env node
import { WeftError } from '../lib/errors.js'
import type { Command } from './cli.js'
import { exitCodeOf } from './exit.js'

/**
 * The one CLI. It only dispatches: each subcommand lives in its own module under cmd/, loaded on demand so
 * that `weft daemon` never pays for the controller's dependencies.
 */
const COMMANDS: Record<string, { summary: string, load: () => Promise<{ command: Command }> }> = {
  controller: { summary: 'run the controller (registry, IPAM, netmap, health)', load: async () => await import('./controller.js') },
  token: { summary: 'create, list and revoke join tokens (admin)', load: async () => await import('./token.js') },
  nodes: { summary: 'list, remove, expire and tag nodes (admin)', load: async () => await import('./nodes.js') },
  routes: { summary: 'list, approve and reject subnet routes and exit nodes (admin)', load: async () => await import('./routes.js') },
  policy: { summary: 'check, read, set and ask the access policy', load: async () => await import('./policy.js') },
  daemon: { summary: 'run the node daemon (WireGuard mesh + SWIM)', load: async () => await import('./daemon.js') },
  status: { summary: 'show this node and its peers', load: async () => await import('./status.js') },
  set: { summary: 'change the running daemon\'s routes and exit node (saved across restarts)', load: async () => await import('./set.js') },
  leave: { summary: 'leave the mesh gracefully', load: async () => await import('./leave.js') },
  version: { summary: 'print the Weft, protocol and Node.js versions', load: async () => await import('./version.js') },
  sim: { summary: 'simulate meshes (virtual: in-process SWIM; run: real nodes in namespaces)', load: async () => await import('./sim.js') },
  completion: {
    summary: 'print a bash completion script for every command and its flags',
    load: async () => ({ command: (await import('./completion.js')).completionCommand(() => Object.keys(COMMANDS)) })
  },
}

function usage (): string {
  const names = Object.keys(COMMANDS)
  const w = Math.max(...names.map(n => n.length))
  return 'Usage: weft <command> [flags]\n\nCommands:\n' +
    names.map(n => `  ${n.padEnd(w)}  ${COMMANDS[n]!.summary}`).join('\n') +
    '\n\nRun `weft <command> --help` for the flags of one command, `weft --version` for the versions.\n'
}

async function main (argv: string[]): Promise<number> {
  const [first, ...rest] = argv
  const name = first === '--version' || first === '-V' ? 'version' : first
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage())
    return name === undefined ? 2 : 0
  }
  const entry = COMMANDS[name]
  if (entry === undefined) {
    process.stderr.write(`weft: unknown command "${name}"\n\n${usage()}`)
    return 2
  }
  const { command } = await entry.load()
  return await command.run(rest)
}

main(process.argv.slice(2)).then(code => { process.exitCode = code }, (err: unknown) => {
  if (err instanceof WeftError) process.stderr.write(`weft: ${err.message} (${err.code})\n`)
  else process.stderr.write(`weft: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`)
  process.exitCode = exitCodeOf(err)
})
