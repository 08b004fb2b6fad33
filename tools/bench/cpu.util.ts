import { readFileSync } from 'node:fs';

/** CPU time (user + system) a process has used so far, in ms (/proc stat fields 14 and 15, in 1/100 s). */
export function cpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0; // the process ended
  }
}
