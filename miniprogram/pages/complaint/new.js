// 我要反映: kind, optional item, township (from the plan), text with a live length count, up to 9 photos
// (wx.chooseMedia + wx.uploadFile), phone through the getPhoneNumber button, anonymous switch. One
// Idempotency-Key per draft: a retry after a dropped answer returns the ticket filed the first time.
const api = require('../../utils/api')
const a11y = require('../../utils/a11y')

const MAX_PHOTOS = 9
const MAX_LENGTH = 1000
const KINDS = [
  {value: 'complaint', label: '投诉'},
  {value: 'suggestion', label: '建议'},
  {value: 'consultation', label: '咨询'},
  {value: 'praise', label: '表扬'},
]
const NOTICE_KINDS = ['complaint_replied', 'please_evaluate']

Component({
  behaviors: [a11y.behavior],
  data: {
    kinds: KINDS,
    kind: 'complaint',
    projects: [{id: null, name: '不涉及具体项目'}],
    projectIndex: 0,
    townships: ['请选择乡镇（选填）'],
    townshipIndex: 0,
    content: '',
    length: 0,
    maxLength: MAX_LENGTH,
    photos: [],
    maxPhotos: MAX_PHOTOS,
    uploading: false,
    phoneMasked: '',
    anonymous: false,
    submitting: false,
    draftKey: '',
    error: '',
    fieldErrors: {},
    networkError: false,
    submitted: null,
  },
  methods: {
    async onLoad(query = {}) {
      this.setData({draftKey: api.newIdempotencyKey()})
      try {
        const plan = await api.get('/api/v1/plans/current')
        const projects = [{id: null, name: '不涉及具体项目'}]
        plan.categories.forEach(c => c.projects.forEach(p => projects.push({id: p.id, name: `${p.code} ${p.title}`})))
        const projectIndex = Math.max(0, projects.findIndex(p => String(p.id) === String(query.project_id)))
        this.setData({projects, projectIndex, townships: ['请选择乡镇（选填）'].concat(plan.townships || [])})
      } catch (err) {
        this.setData({error: err.message, networkError: !!err.network})
      }
    },
    onKind(e) { this.setData({kind: e.currentTarget.dataset.kind}) },
    onProject(e) { this.setData({projectIndex: Number(e.detail.value)}) },
    onTownship(e) { this.setData({townshipIndex: Number(e.detail.value)}) },
    onContent(e) {
      const content = e.detail.value
      this.setData({content, length: Array.from(content).length})
    },
    onAnonymous(e) { this.setData({anonymous: !!e.detail.value}) },
    onChoosePhotos() {
      const room = MAX_PHOTOS - this.data.photos.length
      if (room <= 0) {
        wx.showToast({title: `最多 ${MAX_PHOTOS} 张照片`, icon: 'none'})
        return Promise.resolve()
      }
      return new Promise(resolve => {
        wx.chooseMedia({
          count: room,
          mediaType: ['image'],
          sizeType: ['compressed'],
          success: res => resolve(this.uploadAll(res.tempFiles.map(f => f.tempFilePath))),
          fail: () => resolve(),
        })
      })
    },
    async uploadAll(paths) {
      this.setData({uploading: true})
      for (const path of paths) {
        try {
          const image = await api.upload(path)
          if (!this.data.photos.some(p => p.id === image.id)) this.setData({photos: this.data.photos.concat([image])})
        } catch (err) {
          api.showError(err)
        }
      }
      this.setData({uploading: false})
    },
    onRemovePhoto(e) {
      const id = Number(e.currentTarget.dataset.id)
      this.setData({photos: this.data.photos.filter(p => p.id !== id)})
    },
    async onPhone(e) {
      if (!e.detail || !e.detail.code) {
        wx.showToast({title: '未授权手机号，可手动填写或不填', icon: 'none'})
        return
      }
      try {
        const bound = await api.post('/api/v1/me/phone', {code: e.detail.code}, {auth: true})
        this.setData({phoneMasked: bound.phone})
      } catch (err) {
        api.showError(err)
      }
    },
    askNotices() {
      return api.get('/api/v1/wechat/templates').then(templates => {
        const ids = NOTICE_KINDS.map(k => templates[k] && templates[k].template_id).filter(Boolean)
        if (!ids.length) return []
        return new Promise(resolve => wx.requestSubscribeMessage({
          tmplIds: ids,
          success: res => resolve(ids.filter(id => res[id] === 'accept')),
          fail: () => resolve([]),
        }))
      }).catch(() => [])
    },
    body() {
      const d = this.data
      const body = {kind: d.kind, content: d.content.trim(), image_ids: d.photos.map(p => p.id), anonymous: d.anonymous}
      const project = d.projects[d.projectIndex]
      if (project.id) body.project_id = project.id
      if (d.townshipIndex > 0) body.township = d.townships[d.townshipIndex]
      return body
    },
    async onSubmit() {
      if (this.data.submitting || this.data.uploading) return
      this.setData({submitting: true, error: '', fieldErrors: {}, networkError: false})
      // Asked on the resident's tap, as WeChat requires: notices of the reply and the evaluation.
      const accepted = await this.askNotices()
      try {
        const ticket = await api.post('/api/v1/complaints', this.body(),
          {auth: true, header: {'Idempotency-Key': this.data.draftKey}})
        if (accepted.length) await api.post('/api/v1/me/subscriptions', {template_ids: accepted}, {auth: true}).catch(() => null)
        // The draft is filed: the next one is a new draft with a key of its own.
        this.setData({submitted: ticket, submitting: false, draftKey: api.newIdempotencyKey(), content: '', length: 0,
          photos: []})
        wx.showToast({title: '提交成功', icon: 'success'})
      } catch (err) {
        const fieldErrors = {}
        Object.keys(err.errors || {}).forEach(k => {
          const v = err.errors[k]
          fieldErrors[k] = Array.isArray(v) ? v.join('；') : (typeof v === 'object' ? JSON.stringify(v) : String(v))
        })
        const wait = err.status === 429 && err.retryAfter ? `（约 ${Math.ceil(err.retryAfter / 60)} 分钟后可再提交）` : ''
        this.setData({submitting: false, error: err.message + wait, fieldErrors, networkError: !!err.network})
        api.showError(err)
      }
    },
    onOpenTicket() {
      wx.navigateTo({url: `/pages/complaint/detail?id=${this.data.submitted.id}`})
    },
  },
})
