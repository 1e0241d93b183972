// 我的, 我的关注 and 适老化 against the live backend.
const fs = require('fs')
const path = require('path')
const {openPage, until, text, tap, el, change, session, ROOT, simulate} = require('./harness/mp')

const ctx = session()

test('我的 shows the phone binding state and binds the WeChat number', async () => {
  ctx.newResident('profile')
  const page = await openPage('pages/me/index')
  expect(text(page, '#phone-state')).toBe('未绑定手机号')
  el(page, '#bind-phone').dispatchEvent('getphonenumber', {detail: {code: 'phone-profile'}})
  await until(() => page.instance.data.me && page.instance.data.me.phone_bound, 'the bound phone')
  expect(text(page, '#phone-state')).toMatch(/^已绑定手机号 138\*{4}\d{4}$/)
  await tap(page, '#privacy')
  expect(text(page, '#privacy-text')).toContain('加密保存')
})

test('我的关注 lists the followed items with their message quota and unsubscribes', async () => {
  const phone = ctx.newResident('subscriber')
  const list = (await ctx.backend.json('GET', '/api/v1/projects?per_page=2')).body.items
  for (const item of list) {
    const detail = await openPage('pages/project/detail', {id: String(item.id)})
    await tap(detail, '#subscribe')
    await until(() => detail.instance.data.subscribed, `following ${item.code}`)
  }
  const page = await openPage('pages/subscriptions/index')
  await until(() => page.instance.data.items.length === 2, 'the followed items')
  expect(text(page)).toContain(`${list[0].code} ${list[0].title}`)
  expect(text(page, '#quotas')).toContain('项目进展')
  await tap(page, `#unsubscribe-${list[0].id}`)
  await until(() => page.instance.data.items.length === 1, 'the unsubscription')
  const again = await openPage('pages/subscriptions/index')
  await until(() => !again.instance.data.loading, 'the list')
  expect(again.instance.data.items.map(s => s.project.id)).toEqual([list[1].id])
  expect(phone.toasts).toContain('已取消关注')
})

test('适老化: large type and high contrast are one persisted switch each, applied to every page', async () => {
  const phone = ctx.newResident('elder')
  const me = await openPage('pages/me/index')
  expect(me.instance.data.a11yClass).toBe('')
  await change(me, '#large', true)
  await change(me, '#contrast', true)
  expect(me.instance.data.a11yClass).toBe('a11y-large a11y-contrast')
  expect(JSON.parse(phone.storage['minsheng.a11y'])).toEqual({large: true, contrast: true})
  const home = await openPage('pages/index/index')
  expect(home.instance.data.a11yClass).toBe('a11y-large a11y-contrast')
  const root = home.dom.firstElementChild.className
  expect(root).toMatch(/a11y-large/)
  expect(root).toMatch(/a11y-contrast/)
  await change(me, '#large', false)
  const detail = await openPage('pages/project/detail', {id: String(home.instance.data.items[0].id)})
  expect(detail.instance.data.a11yClass).toBe('a11y-contrast')

  // Large type is at least 1.3× the base size; every tappable target is at least 88rpx (44 px) both ways.
  const css = fs.readFileSync(path.join(ROOT, 'app.wxss'), 'utf8')
  const size = selector => Number(new RegExp(`${selector.replace('.', '\\.')} \\{[^}]*font-size: (\\d+)rpx`).exec(css)[1])
  expect(size('.a11y-large') / size('page')).toBeGreaterThanOrEqual(1.3)
  const tapRule = /\.tap \{([^}]*)\}/.exec(css)[1]
  expect(Number(/min-height: (\d+)rpx/.exec(tapRule)[1])).toBeGreaterThanOrEqual(88)
  expect(Number(/min-width: (\d+)rpx/.exec(tapRule)[1])).toBeGreaterThanOrEqual(88)
  // No fixed line heights or heights on text boxes: layouts grow with the system font scale.
  expect(css).not.toMatch(/line-height: \d+(rpx|px)/)
})

test('every tappable element of every page carries the .tap target size', () => {
  const pages = JSON.parse(fs.readFileSync(path.join(ROOT, 'app.json'), 'utf8')).pages
  const offenders = []
  for (const route of pages) {
    const wxml = fs.readFileSync(path.join(ROOT, `${route}.wxml`), 'utf8')
    const tags = wxml.match(/<[a-z-]+\s[^>]*>/g) || []
    tags.filter(tag => /\b(bindtap|catchtap|bindchange|open-type)=/.test(tag) || /^<(button|switch|picker)\b/.test(tag))
      .filter(tag => !/class="[^"]*\btap\b/.test(tag))
      .forEach(tag => offenders.push(`${route}: ${tag}`))
  }
  expect(offenders).toEqual([])
})

test('data export and 注销 where the backend offers them', async () => {
  const phone = ctx.newResident('leaver')
  const spec = (await ctx.backend.json('GET', '/api/v1/openapi.json')).body
  const page = await openPage('pages/me/index')
  await tap(page, '#export')
  if (!spec.paths['/api/v1/me/export']) {
    // Not offered by this backend yet: the server's own Chinese answer is shown, nothing breaks.
    await until(() => phone.toasts.length, 'the answer')
    expect(phone.toasts[phone.toasts.length - 1]).toMatch(/[\u4e00-\u9fa5]/)
    return
  }
  await until(() => page.instance.data.exported, 'the export')
  expect(JSON.parse(page.instance.data.exported)).toBeTruthy()
  await tap(page, '#delete')
  await until(() => page.instance.data.deleted, 'the deletion')
  expect(phone.modals[0].content).toContain('不可恢复')
  expect(phone.storage['minsheng.token']).toBeUndefined()
})
