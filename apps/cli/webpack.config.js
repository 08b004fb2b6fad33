// `nx build cli` → dist/apps/cli/main.js, for a container: docker build -f docker/Dockerfile --build-arg APP=cli .
module.exports = require('../../tools/webpack/nest-app')(__dirname, 'cli');
