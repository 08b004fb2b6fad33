// Integration tier (nx integration processor-feature): against the real PostgreSQL and NATS.
module.exports = {
  displayName: 'processor-feature',
  preset: '../../jest.preset.cjs',
  rootDir: __dirname,
  testMatch: ['**/*.int-spec.ts'],
  passWithNoTests: false,
};
