// Once per `npm test`: a migrated database with the 2024 plan and the development accounts, which each test
// file copies for the backend it starts (the three commands take tens of seconds on a busy machine).
const fs = require('fs')
const os = require('os')
const path = require('path')
const {prepareDatabase} = require('./backend')

module.exports = async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-template-'))
  const db = path.join(dir, 'minsheng.db')
  const env = Object.assign({}, process.env, {APP_ENV: 'development', DATABASE_URL: `sqlite:///${db}`,
    REDIS_URL: 'memory://', UPLOAD_DIR: path.join(dir, 'uploads'), NOTIFY_JOURNAL_DIR: path.join(dir, 'journal')})
  delete env.TEST_DATABASE_URL
  delete env.TEST_REDIS_URL
  await prepareDatabase(env)
  process.env.MP_TEMPLATE_DB = db
  globalThis.__MP_TEMPLATE_DIR__ = dir
}
