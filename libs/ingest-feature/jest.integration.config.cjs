// Integration tier (nx integration ingest-feature): against the real PostgreSQL and NATS.
module.exports = {
  displayName: 'ingest-feature',
  preset: '../../jest.preset.cjs',
  rootDir: __dirname,
  testMatch: ['**/*.int-spec.ts'],
  passWithNoTests: false,
};
