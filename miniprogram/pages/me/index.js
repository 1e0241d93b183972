// 我的: phone binding state (GET /api/v1/me), 适老化 switches (large type, high contrast; persisted), the privacy
// notice, and — where the backend offers them — data export and account deletion (注销).
const api = require('../../utils/api')
const a11y = require('../../utils/a11y')

Component({
  behaviors: [a11y.behavior],
  data: {me: null, error: '', networkError: false, exported: null, deleted: false, showPrivacy: false},
  methods: {
    onLoad() { return this.load() },
    async load() {
      this.setData({error: '', networkError: false})
      try {
        this.setData({me: await api.get('/api/v1/me', {auth: true})})
      } catch (err) {
        this.setData({error: err.message, networkError: !!err.network})
        api.showError(err)
      }
    },
    async onPhone(e) {
      if (!e.detail || !e.detail.code) return
      try {
        await api.post('/api/v1/me/phone', {code: e.detail.code}, {auth: true})
        await this.load()
      } catch (err) {
        api.showError(err)
      }
    },
    onLarge(e) { this.saveA11y({large: !!e.detail.value}) },
    onContrast(e) { this.saveA11y({contrast: !!e.detail.value}) },
    saveA11y(change) {
      const settings = a11y.save(Object.assign({}, this.data.a11y, change))
      this.setData({a11y: settings, a11yClass: a11y.classOf(settings)})
    },
    onPrivacy() { this.setData({showPrivacy: !this.data.showPrivacy}) },
    openSubscriptions() { wx.navigateTo({url: '/pages/subscriptions/index'}) },
    openComplaints() { wx.switchTab({url: '/pages/complaint/list'}) },
    async onExport() {
      try {
        const data = await api.get('/api/v1/me/export', {auth: true})
        this.setData({exported: JSON.stringify(data, null, 2)})
        if (wx.setClipboardData) wx.setClipboardData({data: this.data.exported})
      } catch (err) {
        api.showError(err)
      }
    },
    onDelete() {
      wx.showModal({
        title: '注销账号',
        content: '注销后您的身份和联系方式将立即删除，已提交的诉求和评价匿名保留，不可恢复。确定注销吗？',
        confirmText: '确定注销',
        success: async res => {
          if (!res.confirm) return
          try {
            await api.del('/api/v1/me', {auth: true})
            wx.removeStorageSync(api.TOKEN_KEY)
            this.setData({deleted: true, me: null})
          } catch (err) {
            api.showError(err)
          }
        },
      })
    },
  },
})
