// The one way the pages talk to the backend.
// - wx.login's code is exchanged for our own token (POST /api/v1/auth/wechat/login), kept in storage.
// - A 401 means the token expired or was revoked: one silent re-login and one retry of that request, never more
//   (a server that keeps answering 401 ends in an error shown to the resident, not in a loop).
// - Every error carries the server's Chinese `message`; a network failure says so and can be retried.
// - No secret lives here: the AppSecret and session_key stay on the server.
const config = require('./config')

const TOKEN_KEY = 'minsheng.token'
const NETWORK_MESSAGE = '网络连接失败，请检查网络后重试'

let base = config.API_BASE
let pendingLogin = null

class ApiError extends Error {
  constructor(status, body, header) {
    const message = (body && typeof body === 'object' && body.message) || `服务暂时不可用（${status}），请稍后再试`
    super(message)
    this.status = status
    this.errors = (body && body.errors) || {}
    this.network = false
    const retryAfter = header && (header['Retry-After'] || header['retry-after'])
    this.retryAfter = retryAfter ? Number(retryAfter) : null
  }
}

class NetworkError extends Error {
  constructor(errMsg) {
    super(NETWORK_MESSAGE)
    this.status = 0
    this.errors = {}
    this.network = true
    this.detail = errMsg
  }
}

function configure(options) {
  if (options && options.base) base = options.base.replace(/\/+$/, '')
}

function url(path) {
  return /^https?:\/\//.test(path) ? path : base + path
}

function query(params) {
  const parts = Object.keys(params || {})
    .filter(key => params[key] !== undefined && params[key] !== null && params[key] !== '')
    .map(key => `${encodeURIComponent(key)}=${encodeURIComponent(params[key])}`)
  return parts.length ? `?${parts.join('&')}` : ''
}

function send(method, path, data, header) {
  return new Promise((resolve, reject) => {
    wx.request({
      url: url(path),
      method,
      data,
      header: Object.assign({'Content-Type': 'application/json'}, header),
      success: res => resolve(res),
      fail: err => reject(new NetworkError(err && err.errMsg)),
    })
  })
}

function wxLogin() {
  return new Promise((resolve, reject) => {
    wx.login({
      success: res => (res.code ? resolve(res.code) : reject(new ApiError(0, {message: '微信登录失败，请重试'}))),
      fail: err => reject(new NetworkError(err && err.errMsg)),
    })
  })
}

// One login at a time: pages that load together and all meet a 401 share the same re-login.
function login() {
  if (!pendingLogin) {
    pendingLogin = (async () => {
      const code = await wxLogin()
      const res = await send('POST', '/api/v1/auth/wechat/login', {code})
      if (res.statusCode !== 200) throw new ApiError(res.statusCode, res.data, res.header)
      wx.setStorageSync(TOKEN_KEY, res.data.token)
      return res.data.token
    })()
    pendingLogin.then(() => { pendingLogin = null }, () => { pendingLogin = null })
  }
  return pendingLogin
}

function token() {
  return wx.getStorageSync(TOKEN_KEY) || ''
}

async function authorised(perform) {
  const current = token() || await login()
  let res = await perform(current)
  if (res.statusCode === 401) {
    wx.removeStorageSync(TOKEN_KEY)
    res = await perform(await login())
  }
  return res
}

function unwrap(res) {
  if (res.statusCode >= 200 && res.statusCode < 300) return res.data
  throw new ApiError(res.statusCode, res.data, res.header)
}

// request('GET', '/api/v1/projects', {params, auth, data, header})
async function request(method, path, options = {}) {
  const full = path + query(options.params)
  if (!options.auth) return unwrap(await send(method, full, options.data, options.header))
  return unwrap(await authorised(current => send(method, full, options.data,
    Object.assign({Authorization: `Bearer ${current}`}, options.header))))
}

function uploadOnce(filePath, current) {
  return new Promise((resolve, reject) => {
    wx.uploadFile({
      url: url('/api/v1/uploads'),
      filePath,
      name: 'file',
      header: {Authorization: `Bearer ${current}`},
      success: res => {
        let data = res.data
        try { data = JSON.parse(res.data) } catch (e) { /* an error page from a proxy: keep the text */ }
        resolve({statusCode: res.statusCode, data, header: res.header || {}})
      },
      fail: err => reject(new NetworkError(err && err.errMsg)),
    })
  })
}

async function upload(filePath) {
  return unwrap(await authorised(current => uploadOnce(filePath, current)))
}

function showError(err) {
  wx.showToast({title: (err && err.message) || '操作失败，请重试', icon: 'none', duration: 3000})
}

// A fresh key per draft (a complaint being written): a retry of the same draft files it once.
function newIdempotencyKey() {
  const random = Math.random().toString(36).slice(2, 12)
  return `mp-${Date.now().toString(36)}-${random}`
}

module.exports = {
  ApiError,
  NetworkError,
  configure,
  login,
  request,
  upload,
  showError,
  newIdempotencyKey,
  TOKEN_KEY,
  get: (path, options) => request('GET', path, options),
  post: (path, data, options) => request('POST', path, Object.assign({data}, options)),
  put: (path, data, options) => request('PUT', path, Object.assign({data}, options)),
  del: (path, options) => request('DELETE', path, options),
}
