// 首页 against the live backend: the 2024 plan by category, search, filters, paging, refresh, network failure.
const {openPage, until, text, tap, input, change, session} = require('./harness/mp')

const ctx = session()

// The page shows exactly what the backend answers for these filters (and is no longer loading).
function shows(page, expected) {
  const data = page.instance.data
  return !data.loading && data.total === expected.total &&
    JSON.stringify(data.items.map(i => i.id)) === JSON.stringify(expected.items.map(i => i.id))
}

test('the plan is listed by category with progress, status and the 滞后 badge, 20 a page', async () => {
  const phone = ctx.newResident('browser')
  const page = await openPage('pages/index/index')
  const all = (await ctx.backend.json('GET', '/api/v1/projects?per_page=100')).body
  expect(page.instance.data.total).toBe(all.total)
  expect(text(page, '#total')).toBe(`共 ${all.total} 项`)
  const first = all.items[0]
  expect(text(page)).toContain(`${first.code} ${first.title}`)
  expect(text(page)).toContain(first.category.name)
  const shown = page.instance.data.items
  expect(shown).toHaveLength(Math.min(20, all.total))
  const behind = all.items.slice(0, 20).filter(item => item.behind_schedule).length
  expect(page.querySelectorAll('.badge-behind')).toHaveLength(behind)
  expect(page.querySelectorAll('.bar-fill')).toHaveLength(shown.length)
  // Public reads send no token: browsing needs no login.
  expect(phone.logins).toBe(0)

  await tap(page, '#more')
  await until(() => page.instance.data.items.length === Math.min(40, all.total), 'the second page')
  expect(page.instance.data.items.map(i => i.id)).toEqual(all.items.slice(0, Math.min(40, all.total)).map(i => i.id))
})

test('search and filters ask the backend with q, category, unit and township', async () => {
  ctx.newResident('searcher')
  const page = await openPage('pages/index/index')
  const sample = page.instance.data.items[0]
  await input(page, '#q', sample.code)
  await tap(page, '#search')
  const expected = (await ctx.backend.json('GET', `/api/v1/projects?q=${encodeURIComponent(sample.code)}`)).body
  await until(() => shows(page, expected), 'the search result')
  expect(text(page)).toContain(sample.title)

  await input(page, '#q', '')
  const categories = page.instance.data.categories
  await change(page, '#category', 2)
  const byCategory = (await ctx.backend.json('GET', `/api/v1/projects?category=${categories[2].id}`)).body
  await until(() => shows(page, byCategory), 'the category filter')
  expect(page.instance.data.items.every(item => item.category.id === categories[2].id)).toBe(true)

  const units = page.instance.data.units
  await change(page, '#category', 0)
  await change(page, '#unit', 1)
  const byUnit = (await ctx.backend.json('GET', `/api/v1/projects?unit=${units[1].id}`)).body
  await until(() => shows(page, byUnit), 'the unit filter')
  expect(page.instance.data.items.every(item => item.lead_units.some(u => String(u.id) === String(units[1].id)))).toBe(true)

  const townships = page.instance.data.townships
  expect({error: page.instance.data.error, townships: townships.length > 1}).toEqual({error: '', townships: true})
  await change(page, '#unit', 0)
  await change(page, '#township', 1)
  const byTownship = (await ctx.backend.json('GET', `/api/v1/projects?township=${encodeURIComponent(townships[1])}`)).body
  await until(() => shows(page, byTownship), 'the township filter')
})

test('a network failure shows the message and a retry that works once the network is back', async () => {
  const phone = ctx.newResident('offline')
  phone.offline = true
  const page = await openPage('pages/index/index')
  expect(text(page, '#error')).toContain('网络连接失败')
  expect(phone.toasts).toContain('网络连接失败，请检查网络后重试')
  phone.offline = false
  await tap(page, '#retry')
  await until(() => page.instance.data.total > 0 && !page.instance.data.error, 'the list after retrying')
  expect(page.querySelector('#retry')).toBeFalsy()

  // Pull to refresh asks again.
  const before = phone.requests.length
  await page.instance.onPullDownRefresh()
  expect(phone.requests.length).toBeGreaterThan(before)
})
