// Integration tier (nx integration messaging): against the real PostgreSQL and NATS.
module.exports = {
  displayName: 'messaging',
  preset: '../../jest.preset.cjs',
  rootDir: __dirname,
  testMatch: ['**/*.int-spec.ts'],
  passWithNoTests: false,
};
