// 项目详情 against the live backend: browse → detail → subscribe → the office publishes through the staff API →
// the WeChat double received exactly one message, whose `page` opens that item's detail page; rate an item.
const {openPage, openPath, until, text, tap, input, session, simulate} = require('./harness/mp')

const ctx = session()

async function projectByCode(code) {
  const list = (await ctx.backend.json('GET', `/api/v1/projects?q=${encodeURIComponent(code)}`)).body
  return list.items.find(item => item.code === code)
}

test('browse, open an item, subscribe; the published update reaches the resident once and opens that item', async () => {
  const phone = ctx.newResident('follower')
  const home = await openPage('pages/index/index')
  const target = (await projectByCode('3.1'))
  await simulateTapOn(home, target.id)
  expect(phone.navigations).toEqual([`/pages/project/detail?id=${target.id}`])

  const detail = await openPath(phone.navigations[0].slice(1))
  expect(text(detail, '#title')).toBe(`3.1 ${target.title}`)
  // A raised standard reads from its baseline to its target.
  expect(text(detail, '#metrics')).toContain('650 → 700 元/月')
  expect(text(detail, '#lead-units')).toContain('县民政局')

  await tap(detail, '#subscribe')
  await until(() => detail.instance.data.subscribed, 'the subscription')
  const templates = (await ctx.backend.json('GET', '/api/v1/wechat/templates')).body
  expect(phone.subscribePrompts).toEqual([[templates.progress_update.template_id]])
  expect(text(detail, '#message')).toContain('已关注')
  expect(detail.querySelector('#unsubscribe')).toBeTruthy()

  // The lead unit drafts an update with a photo and a new value; the office publishes it.
  const unit = await ctx.backend.staffLogin(`unit${target.lead_units[0].id}`)
  const office = await ctx.backend.staffLogin('office')
  const project = (await ctx.backend.json('GET', `/api/v1/projects/${target.id}`)).body
  const metric = project.metrics[0]
  const draft = await unit('POST', `/api/v1/staff/projects/${target.id}/updates`, {
    content: '城市低保标准已提高到每月700元，12月起按新标准发放。', metric_values: [{metric_id: metric.id, value: '700'}]})
  expect(draft.status).toBe(201)
  const published = await office('POST', `/api/v1/staff/updates/${draft.body.id}/publish`)
  expect(published.status).toBe(200)

  const mine = message => message.touser === 'o_follower'
  const [message] = await until(async () => (await ctx.backend.sent()).filter(mine).length && (await ctx.backend.sent()).filter(mine),
    'the subscribe message')
  await simulate.sleep(1500) // a second send would have arrived by now
  expect((await ctx.backend.sent()).filter(mine)).toHaveLength(1)
  expect(message.template_id).toBe(templates.progress_update.template_id)
  expect(message.page).toBe(`pages/project/detail?id=${target.id}`)

  // Opening the message opens that item, with the published update in its timeline.
  const opened = await openPath(message.page)
  expect(text(opened, '#title')).toBe(`3.1 ${target.title}`)
  expect(text(opened, '#timeline')).toContain('城市低保标准已提高到每月700元')
  // The history names who changed what, old → new.
  expect(text(opened, '#history')).toContain(`县民政局${metric.name}完成值：${metric.current} → 700 元/月`)
  expect(opened.instance.data.subscribed).toBe(true)
})

test('rate an item 1–5 with a comment; the rating is the resident\'s and counts in the satisfaction', async () => {
  ctx.newResident('rater')
  const target = await projectByCode('3.1')
  const detail = await openPage('pages/project/detail', {id: String(target.id)})
  expect(detail.querySelector('#my-rating')).toBeFalsy()
  await tap(detail, '#submit-rating')
  expect(global.wx.__state.toasts).toContain('请选择满意程度')
  await tap(detail, '#level-4')
  await input(detail, '#comment', '标准提高了，发放很及时')
  await tap(detail, '#submit-rating')
  await until(() => detail.instance.data.rating, 'the rating')
  expect(text(detail, '#my-rating')).toBe('我的评价：满意')
  await until(() => text(detail, '#satisfaction').includes('人评价'), 'the satisfaction')
  const after = (await ctx.backend.json('GET', `/api/v1/projects/${target.id}`)).body
  expect(after.satisfaction.count).toBeGreaterThanOrEqual(1)

  // Opening the item again shows the resident's own rating.
  const again = await openPage('pages/project/detail', {id: String(target.id)})
  await until(() => again.instance.data.rating, 'the saved rating')
  expect(again.instance.data.level).toBe(4)
  expect(again.instance.data.comment).toBe('标准提高了，发放很及时')
})

async function simulateTapOn(page, projectId) {
  const cards = page.querySelectorAll('.project')
  const card = cards.find(c => String(c.dom.getAttribute('data-id') || '') === String(projectId)) ||
    cards.find(c => c.dom.textContent.includes('3.1'))
  if (card) {
    card.dispatchEvent('tap')
  } else {
    // Not on the first page of 20: search for it the way a resident would.
    await input(page, '#q', '3.1')
    await tap(page, '#search')
    await until(() => page.querySelectorAll('.project').length, 'the search')
    page.querySelectorAll('.project')[0].dispatchEvent('tap')
  }
  await simulate.sleep(0)
}
