// Integration tier (nx integration query-feature): against the real PostgreSQL and NATS.
module.exports = {
  displayName: 'query-feature',
  preset: '../../jest.preset.cjs',
  rootDir: __dirname,
  testMatch: ['**/*.int-spec.ts'],
  passWithNoTests: false,
};
