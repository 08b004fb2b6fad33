#!/usr/bin/env node
// The launcher's guard: `node reaper.mjs <launcher pid> <state file>`, started detached by `npm start`. When the
// launcher is gone without cleaning up (kill -9, a crash that skipped its handlers), it stops what the state file
// lists, the services first, then NATS and PostgreSQL, and says so in its log. A launcher that stops normally
// removes the state file first, and this process ends with it.
import { appendFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { alive } from './local-services.mjs';

const [launcherPid, stateFile] = [Number(process.argv[2]), process.argv[3]];
const logFile = join(dirname(stateFile), 'logs', 'launcher.log');
const log = (line) => appendFileSync(logFile, `${new Date().toISOString()} ${line}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Signals `pid`, waits up to `ms` for it to end, then kills it. */
async function stop(pid, signal, ms) {
  try {
    process.kill(pid, signal);
  } catch {
    return;
  }
  for (const deadline = Date.now() + ms; alive(pid); await sleep(100)) {
    if (Date.now() > deadline) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
}

const readState = () => {
  try {
    return JSON.parse(readFileSync(stateFile, 'utf8'));
  } catch {
    return null;
  }
};

// The launcher writes the state file as it starts things; a missing file means it stopped them itself.
for (;;) {
  await sleep(250);
  if (!existsSync(stateFile)) process.exit(0);
  if (alive(launcherPid)) continue;
  const state = readState();
  if (!state || state.launcher !== launcherPid) process.exit(0);
  const stopped = [];
  const services = Object.entries(state.services ?? {}).filter(([, pid]) => alive(pid));
  await Promise.all(services.map(([, pid]) => stop(pid, 'SIGTERM', 20000)));
  if (services.length) stopped.push(services.map(([name]) => name).join(', '));
  for (const p of state.infra ?? []) {
    if (!alive(p.pid)) continue;
    await stop(p.pid, p.signal, 30000);
    stopped.push(`${p.what} (pid ${p.pid})`);
  }
  rmSync(stateFile, { force: true });
  log(`npm start (pid ${launcherPid}) ended without stopping what it started; stopped ${stopped.length ? stopped.join('; ') : 'nothing (all had ended)'}`);
  process.exit(0);
}
