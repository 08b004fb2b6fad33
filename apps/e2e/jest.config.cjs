// End-to-end: the built services run as processes; tests drive them through the folder, HTTP and the DB.
module.exports = {
  displayName: 'e2e',
  preset: '../../jest.preset.cjs',
  rootDir: __dirname,
  testMatch: ['**/?(*.)+(e2e-spec).ts'],
  testTimeout: 300000,
  maxWorkers: 1,
};
