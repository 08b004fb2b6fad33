import { InvalidArgumentError } from 'commander';

/** A commander parser for a whole number from 1 (to `max`); a bad value is a usage error naming the option. */
export function positiveInt(option: string, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value: string) => {
    if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError(`${option} must be a whole number from 1`);
    const n = Number(value);
    if (n < 1 || n > max) throw new InvalidArgumentError(`${option} must be between 1 and ${max}`);
    return n;
  };
}

/** A ledger id. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
