// Integration tier (nx integration watcher-feature): against the real PostgreSQL and NATS.
module.exports = {
  displayName: 'watcher-feature',
  preset: '../../jest.preset.cjs',
  rootDir: __dirname,
  testMatch: ['**/*.int-spec.ts'],
  passWithNoTests: false,
};
