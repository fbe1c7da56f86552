// A throwaway PostgreSQL 15 for the latch-idp e2e tests (scripts/pg.sh): started once per
// test process at first use, stopped when the process exits; one database per latch-idp
// data dir. LATCH_E2E_DATABASE=postgresql (ctest's e2e_idp_pg.*) runs the journeys with
// latch-idp on PostgreSQL: idp_lib.mjs then adds `--database` to serve and admin commands
// and reads the database with psql instead of sqlite3.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ON_PG = process.env.LATCH_E2E_DATABASE === 'postgresql';
const SOURCE = process.env.LATCH_SOURCE_DIR ?? new URL('../..', import.meta.url).pathname;
const SCRIPT = join(SOURCE, 'scripts', 'pg.sh');

export const SKIP_WITHOUT_PG = spawnSync('bash', [SCRIPT, 'available']).status === 0 ? false
  : 'PostgreSQL 15 is not installed (Debian: postgresql-15)';

function pgScript(args, env = {}) {
  const r = spawnSync('bash', [SCRIPT, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`pg.sh ${args.join(' ')}: ${r.error?.message ?? r.stderr}`);
  return r.stdout.trim();
}

let server = null;
const databases = new Map();  // data dir -> URI

// This process's server: { uri, home, restart(), stop() }.
export function pgServer() {
  if (server) return server;
  const home = mkdtempSync(join(tmpdir(), 'latch-pg-e2e-'));
  const uri = pgScript(['start', home], { LATCH_PG_FSYNC: process.env.LATCH_PG_FSYNC ?? 'off' });
  server = {
    uri,
    home,
    restart: () => pgScript(['restart', home], { LATCH_PG_FSYNC: process.env.LATCH_PG_FSYNC ?? 'off' }),
    stop: () => { if (existsSync(home)) { pgScript(['stop', home]); rmSync(home, { recursive: true, force: true }); } },
  };
  process.on('exit', () => server?.stop());
  return server;
}

// Runs SQL with psql on `uri`; the output unaligned, tuples only.
export function psql(uri, sql) {
  const r = spawnSync('psql', ['-X', '-At', '-v', 'ON_ERROR_STOP=1', uri, '-c', sql], { encoding: 'utf8', timeout: 15_000 });
  if (r.status !== 0) throw new Error(`psql ${sql}: ${r.error?.message ?? r.stderr}`);
  return r.stdout.trim();
}

// A database of its own for the latch-idp data dir `data` (made at first use).
export function databaseFor(data) {
  if (!databases.has(data)) {
    const { uri } = pgServer();
    const name = `e2e_${process.pid}_${databases.size}`;
    psql(uri, `CREATE DATABASE ${name}`);
    databases.set(data, uri.replace(/\/[^/]*$/, `/${name}`));
  }
  return databases.get(data);
}

// The rows of a query as objects (like sqlite3 -json).
export function pgQuery(uri, sql) {
  const out = psql(uri, `SELECT COALESCE(json_agg(t), '[]') FROM (${sql.replace(/;\s*$/, '')}) t`);
  return JSON.parse(out);
}
