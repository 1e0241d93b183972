// A `wx` for the pages under test that does what WeChat does, for real where it matters:
// wx.request and wx.uploadFile are HTTP requests to the backend; wx.login hands out codes the WeChat double
// accepts (a fresh code per call, "user~N", the same user's openid every time); wx.requestSubscribeMessage
// records each prompt and answers as the test's resident chooses. Toasts, modals and navigations are recorded.
const fs = require('fs')
const http = require('http')
const path = require('path')

function createWx(options = {}) {
  const state = {
    storage: {},
    user: options.user || `resident${Date.now().toString(36)}`,
    logins: 0,
    requests: [],
    toasts: [],
    modals: [],
    navigations: [],
    subscribePrompts: [],
    subscribeAnswer: 'accept',
    chosenMedia: [],
    offline: false,
    // Answers lost on the way back (the request reached the server): the page sees a failure.
    dropAnswers: 0,
    offlinePort: options.offlinePort,
  }

  function target(url) {
    if (!state.offline) return url
    // Offline: the same request, to a port nobody listens on, so it fails the way a dropped network does.
    const parsed = new URL(url)
    parsed.port = String(state.offlinePort)
    return parsed.toString()
  }

  function send(url, method, headers, body, done, fail) {
    const req = http.request(target(url), {method, headers}, res => {
      const chunks = []
      res.on('data', c => chunks.push(c))
      res.on('end', () => done(res, Buffer.concat(chunks)))
    })
    req.setTimeout(30000, () => req.destroy(new Error('timeout')))
    req.on('error', err => fail({errMsg: `request:fail ${err.code || err.message}`}))
    if (body) req.write(body)
    req.end()
  }

  function lower(headers) {
    const out = {}
    Object.keys(headers).forEach(k => { out[k] = headers[k] })
    return out
  }

  const wx = {
    __state: state,
    getStorageSync: key => (key in state.storage ? JSON.parse(state.storage[key]) : ''),
    setStorageSync: (key, value) => { state.storage[key] = JSON.stringify(value) },
    removeStorageSync: key => { delete state.storage[key] },
    login({success, fail}) {
      state.logins += 1
      setTimeout(() => success({code: `${state.user}~${state.logins}`, errMsg: 'login:ok'}), 0)
    },
    request({url, method = 'GET', data, header = {}, success, fail, complete}) {
      let body = null
      let fullUrl = url
      const headers = Object.assign({}, header)
      if (data !== undefined && data !== null) {
        if (method === 'GET' || method === 'DELETE') {
          const query = Object.keys(data).map(k => `${encodeURIComponent(k)}=${encodeURIComponent(data[k])}`).join('&')
          if (query) fullUrl += (url.includes('?') ? '&' : '?') + query
        } else {
          body = Buffer.from(typeof data === 'string' ? data : JSON.stringify(data))
          headers['Content-Length'] = body.length
        }
      }
      state.requests.push({method, url: fullUrl, headers})
      send(fullUrl, method, headers, body, (res, raw) => {
        if (state.dropAnswers > 0) {
          state.dropAnswers -= 1
          const lost = {errMsg: 'request:fail timeout'}
          if (fail) fail(lost)
          if (complete) complete(lost)
          return
        }
        const text = raw.toString('utf8')
        let parsed = text
        try { parsed = JSON.parse(text) } catch (e) { /* not JSON */ }
        const result = {statusCode: res.statusCode, data: parsed, header: lower(res.headers), errMsg: 'request:ok'}
        if (success) success(result)
        if (complete) complete(result)
      }, err => {
        if (fail) fail(err)
        if (complete) complete(err)
      })
    },
    uploadFile({url, filePath, name, header = {}, formData = {}, success, fail}) {
      const boundary = `----mp${Date.now().toString(16)}`
      const parts = []
      Object.keys(formData).forEach(k => {
        parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${formData[k]}\r\n`))
      })
      parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${path.basename(filePath)}"\r\n` +
        'Content-Type: application/octet-stream\r\n\r\n'))
      parts.push(fs.readFileSync(filePath))
      parts.push(Buffer.from(`\r\n--${boundary}--\r\n`))
      const body = Buffer.concat(parts)
      const headers = Object.assign({}, header, {'Content-Type': `multipart/form-data; boundary=${boundary}`,
        'Content-Length': body.length})
      state.requests.push({method: 'POST', url, headers, upload: filePath})
      // wx.uploadFile hands back the body as a string, whatever its type.
      send(url, 'POST', headers, body, (res, raw) => success && success({statusCode: res.statusCode,
        data: raw.toString('utf8'), header: lower(res.headers), errMsg: 'uploadFile:ok'}),
      err => fail && fail({errMsg: err.errMsg.replace('request', 'uploadFile')}))
    },
    requestSubscribeMessage({tmplIds, success, fail}) {
      const answer = typeof state.subscribeAnswer === 'function' ? state.subscribeAnswer(tmplIds) : state.subscribeAnswer
      state.subscribePrompts.push(tmplIds.slice())
      const result = {errMsg: 'requestSubscribeMessage:ok'}
      tmplIds.forEach(id => { result[id] = typeof answer === 'object' ? (answer[id] || 'reject') : answer })
      setTimeout(() => success && success(result), 0)
    },
    chooseMedia({count, success, fail}) {
      const files = state.chosenMedia.slice(0, count).map(p => ({tempFilePath: p, size: fs.statSync(p).size,
        fileType: 'image'}))
      setTimeout(() => (files.length ? success({tempFiles: files, type: 'image'}) : fail({errMsg: 'chooseMedia:fail cancel'})), 0)
    },
    showToast(opts) { state.toasts.push(opts.title) },
    showModal(opts) {
      state.modals.push(opts)
      setTimeout(() => opts.success && opts.success({confirm: true, cancel: false}), 0)
    },
    showLoading() {},
    hideLoading() {},
    stopPullDownRefresh() {},
    navigateTo({url}) { state.navigations.push(url) },
    redirectTo({url}) { state.navigations.push(url) },
    switchTab({url}) { state.navigations.push(url) },
    navigateBack() { state.navigations.push('back') },
    getSystemInfoSync: () => ({fontSizeSetting: 16, windowWidth: 375, pixelRatio: 2}),
  }
  return wx
}

module.exports = {createWx}
