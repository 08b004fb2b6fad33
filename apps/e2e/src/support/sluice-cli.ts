import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { WORKSPACE_ROOT } from '@sluice/testing';

const SLUICE = join(WORKSPACE_ROOT, 'apps/cli/bin/sluice.js');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `sluice …` as a process, as a user would, with only PATH and `env` in its environment. */
export function sluice(args: string[], env: Record<string, string>): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [SLUICE, ...args], { cwd: WORKSPACE_ROOT, env: { PATH: process.env['PATH'], ...env }, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}
