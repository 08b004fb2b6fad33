// Integration tier (nx integration replay): against the real PostgreSQL and NATS.
module.exports = {
  displayName: 'replay',
  preset: '../../jest.preset.cjs',
  rootDir: __dirname,
  testMatch: ['**/*.int-spec.ts'],
  passWithNoTests: false,
};
