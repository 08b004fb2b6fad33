module.exports = {
  displayName: 'datasets',
  preset: '../../jest.preset.cjs',
  rootDir: __dirname,
  passWithNoTests: false,
};
