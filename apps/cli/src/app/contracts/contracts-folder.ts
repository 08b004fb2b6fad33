import { dirname, join } from 'node:path';

/**
 * The contracts folder a command works on: `--contracts-dir`, else `CONTRACTS_DIR`, else `contracts/` beside the
 * drop folder when `DROPZONE_DIR` is set (its parent folder), else `./contracts`. An empty variable counts as unset.
 */
export function contractsFolder(option: string | undefined, env: NodeJS.ProcessEnv): string {
  if (option) return option;
  const configured = env['CONTRACTS_DIR'];
  if (configured) return configured;
  const dropzone = env['DROPZONE_DIR'];
  if (dropzone) return join(dirname(dropzone), 'contracts');
  return 'contracts';
}
