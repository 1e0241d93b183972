// Renders the mini-program's pages with miniprogram-simulate (WeChat's component simulator, official WXML
// compiler) against a `wx` shim, and helps tests act on them the way a resident does: tap, type, pick.
const path = require('path')
const simulate = require('miniprogram-simulate')
const {createWx} = require('./wx')
const {startBackend, freePort} = require('./backend')

const ROOT = path.resolve(__dirname, '..', '..')

// A page as WeChat opens it: rendered, attached, then onLoad(query) (pages are Component()s).
// Loaded once per route: Jest's module registry runs a page's JS (its Component() call) only the first time.
const loaded = {}

async function openPage(route, query = {}) {
  if (!loaded[route]) loaded[route] = simulate.load(path.join(ROOT, route), {rootPath: ROOT})
  const id = loaded[route]
  const comp = simulate.render(id)
  comp.attach(document.createElement('parent-wrapper'))
  if (comp.instance.onLoad) await comp.instance.onLoad(query)
  return comp
}

// A page from a `page` value as a subscribe message carries it ("pages/project/detail?id=7").
function openPath(pagePath) {
  const [route, search] = pagePath.split('?')
  const query = {}
  new URLSearchParams(search || '').forEach((value, key) => { query[key] = value })
  return openPage(route, query)
}

async function until(check, what, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await simulate.sleep(50)
  }
}

function el(comp, selector) {
  const found = comp.querySelector(selector)
  if (!found) throw new Error(`no ${selector} on the page: ${comp.dom.textContent.replace(/\s+/g, ' ').slice(0, 400)}`)
  return found
}

function text(comp, selector) {
  return (selector ? el(comp, selector).dom : comp.dom).textContent.replace(/\s+/g, ' ').trim()
}

async function tap(comp, selector) {
  el(comp, selector).dispatchEvent('tap')
  await simulate.sleep(0)
}

async function input(comp, selector, value) {
  el(comp, selector).dispatchEvent('input', {detail: {value}})
  await simulate.sleep(0)
}

async function change(comp, selector, value) {
  el(comp, selector).dispatchEvent('change', {detail: {value}})
  await simulate.sleep(0)
}

// One backend and one resident's phone for a test file.
function session(backendEnv) {
  const ctx = {}
  beforeAll(async () => {
    ctx.backend = await startBackend(backendEnv)
    ctx.offlinePort = await freePort()
  })
  afterAll(async () => { if (ctx.backend) await ctx.backend.stop() })
  ctx.newResident = user => {
    global.wx = createWx({user, offlinePort: ctx.offlinePort})
    const api = require('../../utils/api')
    api.configure({base: ctx.backend.base})
    return global.wx.__state
  }
  return ctx
}

module.exports = {openPage, openPath, until, el, text, tap, input, change, session, ROOT, simulate}
