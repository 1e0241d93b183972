// The api module's session rules against the live backend, tokens lasting 3 seconds: a token that expires
// mid-session is replaced by one silent re-login and the request retried once; a server that keeps refusing
// gets exactly one retry (no loop) and the resident sees its Chinese message.
const {openPage, until, text, session, simulate} = require('./harness/mp')

const ctx = session({TOKEN_TTL_SECONDS: '3'})

test('a token that expires mid-session recovers with one silent re-login, as the same resident', async () => {
  const phone = ctx.newResident('sleeper')
  const me = await openPage('pages/me/index')
  expect(phone.logins).toBe(1)
  const firstId = me.instance.data.me.id
  const firstToken = phone.storage['minsheng.token']
  await simulate.sleep(4500) // the token expires while the page is open
  const list = await openPage('pages/complaint/list')
  expect(list.instance.data.error).toBe('')
  expect(text(list, '#empty')).toContain('您还没有反映过问题')
  expect(phone.logins).toBe(2)
  expect(phone.storage['minsheng.token']).not.toBe(firstToken)
  const answers = phone.requests.filter(r => r.url.endsWith('/api/v1/me/complaints?page=1&per_page=20'))
  expect(answers).toHaveLength(2) // refused once, retried once
  await me.instance.load()
  expect(me.instance.data.me.id).toBe(firstId)
  expect(phone.toasts).toEqual([])
})

test('a server that keeps answering 401 gets one retry, never a loop, and its message is shown', async () => {
  const phone = ctx.newResident('refused')
  const real = global.wx.request
  // Whatever token the client holds, this server says it is invalid.
  global.wx.request = opts => real(Object.assign({}, opts, {header: Object.assign({}, opts.header,
    opts.header && opts.header.Authorization ? {Authorization: 'Bearer not-a-token'} : {})}))
  const list = await openPage('pages/complaint/list')
  global.wx.request = real
  await until(() => list.instance.data.error, 'the error')
  expect(phone.logins).toBe(2) // the first login, then one re-login
  expect(phone.requests.filter(r => r.url.includes('/api/v1/me/complaints'))).toHaveLength(2)
  expect(list.instance.data.error).toBe('登录凭证无效，请重新登录。')
  expect(phone.toasts).toEqual(['登录凭证无效，请重新登录。'])
})

test('the client keeps no secret: only our token is stored, and no source names an AppSecret or session_key', async () => {
  const fs = require('fs')
  const path = require('path')
  const {ROOT} = require('./harness/mp')
  const phone = ctx.newResident('private')
  await openPage('pages/me/index')
  expect(Object.keys(phone.storage)).toEqual(['minsheng.token'])
  const login = phone.requests.find(r => r.url.endsWith('/api/v1/auth/wechat/login'))
  expect(login.headers.Authorization).toBeUndefined()
  const sources = ['app.js', 'utils', 'pages'].flatMap(function walk(entry) {
    const full = path.join(ROOT, entry)
    return fs.statSync(full).isDirectory() ? fs.readdirSync(full).flatMap(name => walk(path.join(entry, name))) : [full]
  })
  for (const file of sources) {
    // Comments may say where secrets live; code may not hold or read one.
    const code = fs.readFileSync(file, 'utf8').replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '')
    expect([file, /appsecret|session_key|wx[0-9a-f]{16}/i.test(code)]).toEqual([file, false])
  }
})
