// Integration tier (nx integration maintenance): against the real PostgreSQL and NATS.
module.exports = {
  displayName: 'maintenance',
  preset: '../../jest.preset.cjs',
  rootDir: __dirname,
  testMatch: ['**/*.int-spec.ts'],
  passWithNoTests: false,
};
