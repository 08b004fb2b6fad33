// Integration tier (nx integration loading): against the real PostgreSQL and NATS.
module.exports = {
  displayName: 'loading',
  preset: '../../jest.preset.cjs',
  rootDir: __dirname,
  testMatch: ['**/*.int-spec.ts'],
  passWithNoTests: false,
};
