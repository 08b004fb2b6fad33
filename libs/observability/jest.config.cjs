module.exports = {
  displayName: 'observability',
  preset: '../../jest.preset.cjs',
  rootDir: __dirname,
  passWithNoTests: false,
};
