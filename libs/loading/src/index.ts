export * from './lib/ledger.repository';
