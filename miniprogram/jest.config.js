module.exports = {
  testEnvironment: 'jsdom',
  testMatch: ['<rootDir>/tests/**/*.test.js'],
  globalSetup: '<rootDir>/tests/harness/global-setup.js',
  globalTeardown: '<rootDir>/tests/harness/global-teardown.js',
  // Each test file starts its own backend (and the WeChat double) on free ports: seconds, not milliseconds.
  testTimeout: 120000,
}
