import { Injectable, Logger } from '@nestjs/common';
import { CommonConfig } from '@sluice/config';
import { quoteIdentifier, type RejectReason } from '@sluice/contracts';
import { formatDiff, type ContractColumn, type ContractVersion } from '@sluice/datasets';
import { DatasetTableError, DatasetTables, rowsOf } from '@sluice/db';
import type { PoolClient } from 'pg';
import { DataSource } from 'typeorm';
import type { LoadOptions } from '../kind-loader';
import { refusedOutcome, type ContractOutcome, type FileOutcome } from '../ledger.repository';
import { ContractLoader } from './contract.loader';
import { contractFileName } from './contracts.service';

/** A column add_columns would add that the table has with another type: the file is refused, the table left as it is. */
class ColumnsRefused extends Error {
  constructor(readonly reasons: string[]) {
    super(reasons.join('; '));
  }
}

/**
 * Loads a file routed to a data contract (kind `contract`): makes or checks the contract's table, loads the
 * file with ContractLoader in the file's ledger transaction, and turns the result into the file's outcome.
 *
 * The table is made by `prepare`, in a transaction of its own committed before the load's begins: CREATE TABLE
 * holds locks until its transaction ends, and inside the load they would hold every other file of the contract
 * until this one is loaded. `load` checks the table again (`ensure`, which takes no lock when the table exists
 * and matches) so that a table changed in between is still refused, with the contract version recorded for the
 * ledger row to name.
 */
@Injectable()
export class ContractKindLoader {
  readonly tables: DatasetTables;
  private readonly loader = new ContractLoader();
  private readonly logger = new Logger(ContractKindLoader.name);

  constructor(ds: DataSource, config: CommonConfig) {
    this.tables = new DatasetTables(ds, config.CONTRACTS_SCHEMA);
  }

  /** Makes the contract's table when missing (committed at once); a table that differs is left for `load` to refuse. */
  async prepare(version: ContractVersion): Promise<void> {
    try {
      await this.tables.prepare(version);
    } catch (e) {
      // A contract no table can be made from: `load` refuses the file with the reason.
      if (!(e instanceof DatasetTableError)) throw e;
    }
  }

  /** The file through its contract, in the caller's transaction (the file's ledger row locked). */
  async load(client: PoolClient, fileId: string, version: ContractVersion, open: () => NodeJS.ReadableStream, opts: LoadOptions): Promise<FileOutcome> {
    const refused = (reason: RejectReason) => refusedOutcome('contract', reason, contractOf(version, null));
    let ensured;
    try {
      ensured = await this.tables.ensure(client, version);
    } catch (e) {
      if (e instanceof DatasetTableError) return refused({ rule: 'contract_invalid', message: `contract ${version.contract.name} (${contractFileName(version)}): ${e.message}` });
      throw e;
    }
    if ('refused' in ensured) return refused(tableMismatch(this.tables.schema, version, ensured.refused));

    const addColumns = async (columns: ContractColumn[], c: PoolClient) => {
      const added = await this.tables.addColumns(c, version, columns);
      if ('refused' in added) throw new ColumnsRefused(added.refused);
    };
    let result;
    try {
      result = await this.loader.load(client, fileId, version, open, { ...opts, schema: this.tables.schema, addColumns });
    } catch (e) {
      // ContractLoader rolled its work back before passing the error on.
      if (e instanceof ColumnsRefused) return refused(tableMismatch(this.tables.schema, version, e.reasons));
      throw e;
    }
    if (result.rejection) return { ...refused(result.rejection), rowsTotal: result.rowsTotal, rowsRejected: result.rowsRejected };
    // Drift a file loads with is said once per load, for the person who wonders later where a column went.
    if (result.drift.length) {
      const { name, drift } = version.contract;
      this.logger.warn(`file ${fileId} differs from contract ${name} and loads as its policy says (drift: ${drift}; docs/contracts.md, "drift"): ${formatDiff(result.drift).join('; ')}`);
    }
    return {
      status: 'processed',
      kind: 'contract',
      rowsTotal: result.rowsTotal,
      rowsLoaded: result.rowsLoaded,
      rowsRejected: result.rowsRejected,
      rowsWritten: {},
      error: null,
      contract: contractOf(version, await this.rowsOfFile(client, version, fileId)),
    };
  }

  /** The rows of a file in its contract's table (by the file_id index). */
  private async rowsOfFile(client: PoolClient, version: ContractVersion, fileId: string): Promise<number> {
    const table = `${quoteIdentifier(this.tables.schema)}.${quoteIdentifier(version.contract.table.name)}`;
    return rowsOf<{ n: number }>(await client.query(`SELECT count(*)::int AS n FROM ${table} WHERE file_id = $1`, [fileId]))[0]?.n ?? 0;
  }
}

function contractOf(version: ContractVersion, rows: number | null): ContractOutcome {
  return { name: version.contract.name, hash: version.hash, rows };
}

function tableMismatch(schema: string, version: ContractVersion, differences: string[]): RejectReason {
  return {
    rule: 'table_mismatch',
    message: `the table ${schema}.${version.contract.table.name} does not match contract ${version.contract.name} (${contractFileName(version)}), so nothing was loaded and the table was left as it is: ${differences.join('; ')}`,
  };
}
