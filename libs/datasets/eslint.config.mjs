export default (await import('../../eslint.config.mjs')).default;
