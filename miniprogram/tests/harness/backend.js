// Starts the real backend for a test file: the embedded default (SQLite + the in-process Redis stand-in) with the
// WeChat API double, on free ports, through the same commands `make run` uses (app/cli.py: db upgrade,
// plan import, dev seed, dev serve). Nothing of the backend is mocked: pages talk to it over HTTP.
const {spawn, execFile} = require('child_process')
const fs = require('fs')
const http = require('http')
const net = require('net')
const os = require('os')
const path = require('path')

const REPO = path.resolve(__dirname, '..', '..', '..')
const FLASK = process.env.MINIPROGRAM_FLASK || path.join(REPO, '.venv', 'bin', 'flask')

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const {port} = server.address()
      server.close(() => resolve(port))
    })
  })
}

function run(args, env) {
  return new Promise((resolve, reject) => {
    execFile(FLASK, ['--app', 'wsgi', ...args], {cwd: REPO, env, timeout: 120000}, (err, stdout, stderr) => {
      if (err) reject(new Error(`flask ${args.join(' ')} failed: ${stderr || err.message}`))
      else resolve(stdout)
    })
  })
}

function httpJson(method, url, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? null : Buffer.from(JSON.stringify(body))
    const req = http.request(url, {method, headers: Object.assign(data ? {'Content-Type': 'application/json',
      'Content-Length': data.length} : {}, headers)}, res => {
      const chunks = []
      res.on('data', c => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let json = null
        try { json = JSON.parse(text) } catch (e) { json = text }
        resolve({status: res.statusCode, body: json, headers: res.headers})
      })
    })
    req.on('error', reject)
    if (data) req.write(data)
    req.end()
  })
}

function upload(url, name, bytes, headers) {
  const boundary = `----staff${Date.now().toString(16)}`
  const body = Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; ` +
    `filename="${name}"\r\nContent-Type: image/png\r\n\r\n`), bytes, Buffer.from(`\r\n--${boundary}--\r\n`)])
  return new Promise((resolve, reject) => {
    const req = http.request(url, {method: 'POST', headers: Object.assign({}, headers, {
      'Content-Type': `multipart/form-data; boundary=${boundary}`, 'Content-Length': body.length})}, res => {
      const chunks = []
      res.on('data', c => chunks.push(c))
      res.on('end', () => resolve({status: res.statusCode, body: JSON.parse(Buffer.concat(chunks).toString('utf8'))}))
    })
    req.on('error', reject)
    req.end(body)
  })
}

// GET a URL as <image src> would: no Authorization header.
function fetchImage(url) {
  return new Promise((resolve, reject) => {
    http.get(url, res => {
      const chunks = []
      res.on('data', c => chunks.push(c))
      res.on('end', () => resolve({status: res.statusCode, type: res.headers['content-type'],
        cache: res.headers['cache-control'], bytes: Buffer.concat(chunks)}))
    }).on('error', reject)
  })
}

async function waitFor(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      const value = await check()
      if (value) return value
    } catch (e) { /* not up yet */ }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(r => setTimeout(r, 100))
  }
}

// What `make run` does before serving: migrations, the 2024 plan, the development accounts.
async function prepareDatabase(env) {
  await run(['db', 'upgrade'], env)
  await run(['plan', 'import', 'data/plans/nanxian_2024.yaml'], env)
  await run(['dev', 'seed'], env)
}

async function startBackend(extraEnv = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-backend-'))
  const [port, doublePort] = [await freePort(), await freePort()]
  const env = Object.assign({}, process.env, {
    APP_ENV: 'development',
    DATABASE_URL: `sqlite:///${path.join(dir, 'minsheng.db')}`,
    REDIS_URL: 'memory://',
    WECHAT_DOUBLE: 'true',
    WECHAT_API_BASE: `http://127.0.0.1:${doublePort}/`,
    PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
    PORT: String(port),
    UPLOAD_DIR: path.join(dir, 'uploads'),
    NOTIFY_JOURNAL_DIR: path.join(dir, 'journal'),
    SECRET_KEY: `miniprogram-test-${process.pid}-${Date.now()}`,
  }, extraEnv)
  // The suite's own database settings must not leak into this backend.
  delete env.TEST_DATABASE_URL
  delete env.TEST_REDIS_URL
  const template = process.env.MP_TEMPLATE_DB
  if (template && fs.existsSync(template)) fs.copyFileSync(template, path.join(dir, 'minsheng.db'))
  else await prepareDatabase(env)
  const child = spawn(FLASK, ['--app', 'wsgi', 'dev', 'serve', '--port', String(port)], {cwd: REPO, env,
    stdio: ['ignore', 'ignore', 'pipe']})
  let stderr = ''
  child.stderr.on('data', chunk => { stderr = (stderr + chunk).slice(-4000) })
  const base = `http://127.0.0.1:${port}`
  try {
    await waitFor(async () => child.exitCode === null && (await httpJson('GET', `${base}/healthz`)).status === 200,
      60000, 'the backend')
  } catch (err) {
    child.kill('SIGTERM')
    throw new Error(`${err.message}\n${stderr}`)
  }
  const double = `http://127.0.0.1:${doublePort}/__double__/`
  return {
    base,
    double,
    dir,
    json: (method, urlPath, body, headers) => httpJson(method, base + urlPath, body, headers),
    sent: async () => (await httpJson('GET', `${double}sent`)).body,
    doubleCalls: async p => (await httpJson('GET', `${double}calls${p ? `?path=${encodeURIComponent(p)}` : ''}`)).body,
    async staffLogin(username, password = 'minsheng2024') {
      const res = await httpJson('POST', `${base}/api/v1/staff/auth/login`, {username, password})
      if (res.status !== 200) throw new Error(`staff login ${username}: ${JSON.stringify(res.body)}`)
      const headers = {Authorization: `Bearer ${res.body.token}`}
      const call = (method, urlPath, body) => httpJson(method, base + urlPath, body, headers)
      call.upload = (name, bytes) => upload(`${base}/api/v1/uploads`, name, bytes, headers)
      return call
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM')
        await new Promise(resolve => child.once('exit', resolve))
      }
      fs.rmSync(dir, {recursive: true, force: true})
    },
    waitFor,
  }
}

module.exports = {startBackend, prepareDatabase, freePort, waitFor, fetchImage, REPO}
