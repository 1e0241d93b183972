// 我要反映 → 我的诉求 → 诉求详情 against the live backend: file a complaint with two photos → it is listed with its
// ticket number → the unit signs and replies through the staff API → the resident sees the reply (its photo
// loads without a token), evaluates unsatisfied and reopens. A lost answer and a retry file once; 422 and 429
// answers are shown in Chinese.
const {openPage, openPath, until, text, tap, input, change, el, session, simulate} = require('./harness/mp')
const {fetchImage} = require('./harness/backend')
const {photoFile, png} = require('./harness/png')

// Three a day, so the daily limit (429) is reached within this file.
const ctx = session({COMPLAINT_DAILY_LIMIT: '3'})

async function newDraft(projectCode) {
  const page = await openPage('pages/complaint/new')
  await until(() => page.instance.data.projects.length > 1, 'the plan in the pickers')
  if (projectCode) {
    const index = page.instance.data.projects.findIndex(p => p.name.startsWith(`${projectCode} `))
    await change(page, '#project', index)
  }
  return page
}

test('file with two photos, follow it, read the reply, evaluate unsatisfied and reopen', async () => {
  const phone = ctx.newResident('filer')
  const page = await newDraft('3.1')
  await tap(page, '#kind-complaint')
  await change(page, '#township', 1)
  const township = page.instance.data.townships[1]
  const content = '城市低保标准提高后，我家12月的低保金还是按650元发放的。'
  await input(page, '#content', content)
  expect(text(page, '#count')).toBe(`${Array.from(content).length}/1000`)
  phone.chosenMedia = [photoFile('门口.png', [200, 30, 30]), photoFile('单据.png', [30, 30, 200])]
  await tap(page, '#add-photo')
  await until(() => page.instance.data.photos.length === 2 && !page.instance.data.uploading, 'two uploaded photos')
  // The upload answers with urls signed for the uploader: <image src> shows them without a token.
  for (const photo of page.instance.data.photos) {
    const got = await fetchImage(photo.url)
    expect([got.status, got.type]).toEqual([200, 'image/png'])
  }
  el(page, '#phone-button').dispatchEvent('getphonenumber', {detail: {code: 'phone-filer', errMsg: 'getPhoneNumber:ok'}})
  await until(() => page.instance.data.phoneMasked, 'the bound phone')
  expect(text(page, '#phone')).toMatch(/^138\*{4}\d{4}$/)

  // The first answer is lost on the way back; the resident taps again and the same draft is filed once.
  phone.dropAnswers = 0
  const templates = (await ctx.backend.json('GET', '/api/v1/wechat/templates')).body
  const realRequest = global.wx.request
  global.wx.request = opts => {
    if (opts.url.endsWith('/api/v1/complaints') && opts.method === 'POST' && !phone.lostOnce) {
      phone.lostOnce = true
      phone.dropAnswers = 1
    }
    return realRequest(opts)
  }
  await tap(page, '#submit')
  await until(() => !page.instance.data.submitting, 'the first attempt')
  expect(text(page, '#error')).toContain('网络连接失败')
  expect(text(page, '#submit')).toBe('重试提交')
  await tap(page, '#submit')
  await until(() => page.instance.data.submitted, 'the ticket')
  global.wx.request = realRequest
  const ticket = page.instance.data.submitted
  expect(text(page, '#submitted')).toContain(`工单号 ${ticket.ticket_no}`)
  expect(phone.subscribePrompts[0]).toEqual([templates.complaint_replied.template_id, templates.please_evaluate.template_id])
  expect(page.instance.data.content).toBe('')

  const list = await openPage('pages/complaint/list')
  await until(() => list.instance.data.items.length, 'my tickets')
  expect(list.instance.data.items.map(i => i.ticket_no)).toEqual([ticket.ticket_no]) // filed once
  expect(text(list)).toContain(ticket.ticket_no)
  expect(text(list)).toContain('县民政局')
  list.querySelectorAll('.ticket')[0].dispatchEvent('tap')
  await simulate.sleep(0)
  expect(phone.navigations.pop()).toBe(`/pages/complaint/detail?id=${ticket.id}`)

  // The unit signs for it and replies with a photo, through the staff API.
  const project = (await ctx.backend.json('GET', `/api/v1/projects/${page.instance.data.projects.find(p => p.name.startsWith('3.1 ')).id}`)).body
  const unit = await ctx.backend.staffLogin(`unit${project.lead_units[0].id}`)
  const staffView = await unit('GET', `/api/v1/staff/complaints/${ticket.id}`)
  expect(staffView.status).toBe(200)
  expect(staffView.body.images).toHaveLength(2)
  expect(staffView.body.township).toBe(township)
  expect((await unit('POST', `/api/v1/staff/complaints/${ticket.id}/sign`)).status).toBe(200)
  const receipt = await unit.upload('补发凭证.png', png(40, 30, [20, 160, 20]))
  expect(receipt.status).toBe(201)
  const replied = await unit('POST', `/api/v1/staff/complaints/${ticket.id}/reply`, {
    content: '经核实，12月低保金差额50元已于今日补发，请查收。', image_ids: [receipt.body.id]})
  expect(replied.status).toBe(200)

  // The reply message opens this ticket.
  const mine = m => m.touser === 'o_filer' && m.template_id === templates.complaint_replied.template_id
  const [message] = await until(async () => { const s = (await ctx.backend.sent()).filter(mine); return s.length && s },
    'the reply message')
  expect(message.page).toBe(`pages/complaint/detail?id=${ticket.id}`)
  const detail = await openPath(message.page)
  expect(text(detail, '#ticket-no')).toBe(ticket.ticket_no)
  expect(text(detail, '#replies')).toContain('差额50元已于今日补发')
  const [replyImage] = detail.instance.data.replies[0].images
  expect(replyImage.url_expires_at).toBeTruthy()
  const got = await fetchImage(replyImage.url)
  expect([got.status, got.type]).toEqual([200, 'image/png'])
  expect(detail.instance.data.ticket.images).toHaveLength(2)
  expect(detail.querySelector('#evaluate')).toBeTruthy()

  // Unsatisfied, not resolved; then reopen with a reason.
  await tap(detail, '#submit-evaluation')
  expect(phone.toasts).toContain('请选择满意程度和是否解决')
  await tap(detail, '#level-2')
  await tap(detail, '#resolved-no')
  await input(detail, '#eval-comment', '只补了一个月，之前的没有补')
  await tap(detail, '#submit-evaluation')
  await until(() => detail.instance.data.ticket.evaluation, 'the evaluation')
  expect(text(detail, '#evaluation')).toContain('不满意 · 未解决')
  await until(() => detail.querySelector('#reopen'), 'the reopen form')
  await input(detail, '#reason', '10月、11月的差额也应补发')
  await tap(detail, '#submit-reopen')
  await until(() => detail.instance.data.ticket.reopen_count === 1, 'the reopened ticket')
  expect(text(detail, '#message')).toContain('已申请重办')
  expect(text(detail, '#timeline')).toContain('10月、11月的差额也应补发')
  const after = await unit('GET', `/api/v1/staff/complaints/${ticket.id}`)
  expect(after.body.reopen_count).toBe(1)
  expect(after.body.status).toBe(detail.instance.data.ticket.status)
})

test('a 422 and a 429 are shown in the server\'s Chinese', async () => {
  const phone = ctx.newResident('limited')
  const page = await newDraft()
  await input(page, '#content', '灯坏')
  await tap(page, '#submit')
  await until(() => page.instance.data.error, 'the refusal')
  expect(page.instance.data.fieldErrors.content).toMatch(/[\u4e00-\u9fa5]/)
  expect(text(page, '#error')).toMatch(/[\u4e00-\u9fa5]/)
  expect(phone.toasts[phone.toasts.length - 1]).toBe(page.instance.data.error)

  for (let i = 1; i <= 3; i++) {
    await input(page, '#content', `第${i}次反映：小区${i}号楼前的路灯不亮了`)
    await tap(page, '#submit')
    await until(() => !page.instance.data.submitting, `complaint ${i}`)
    expect(page.instance.data.error).toBe('')
  }
  await input(page, '#content', '第4次反映：小区4号楼前的路灯不亮了')
  await tap(page, '#submit')
  await until(() => page.instance.data.error, 'the daily limit')
  expect(text(page, '#error')).toMatch(/[\u4e00-\u9fa5]/)
  expect(text(page, '#error')).toContain('分钟后可再提交')
})
