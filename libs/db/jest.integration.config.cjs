// Integration tier (nx integration db): against the real PostgreSQL and NATS.
module.exports = {
  displayName: 'db',
  preset: '../../jest.preset.cjs',
  rootDir: __dirname,
  testMatch: ['**/*.int-spec.ts'],
  passWithNoTests: false,
};
