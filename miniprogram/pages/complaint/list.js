// 我的诉求: the resident's own tickets, newest first, with their ticket numbers and status.
const api = require('../../utils/api')
const a11y = require('../../utils/a11y')
const format = require('../../utils/format')

const PER_PAGE = 20

Component({
  behaviors: [a11y.behavior],
  data: {items: [], total: 0, page: 0, hasMore: false, loading: false, error: '', networkError: false},
  methods: {
    onLoad() { return this.loadPage(1) },
    onShow() { return this.data.page ? this.loadPage(1) : Promise.resolve() },
    onPullDownRefresh() { return this.loadPage(1).then(() => wx.stopPullDownRefresh()) },
    onReachBottom() { return this.data.hasMore && !this.data.loading ? this.loadPage(this.data.page + 1) : Promise.resolve() },
    async loadPage(page) {
      this.setData({loading: true, error: '', networkError: false})
      try {
        const result = await api.get('/api/v1/me/complaints', {auth: true, params: {page, per_page: PER_PAGE}})
        const shown = result.items.map(c => Object.assign({}, c, {when: format.dateTime(c.created_at)}))
        const items = page === 1 ? shown : this.data.items.concat(shown)
        this.setData({items, total: result.total, page, hasMore: page * PER_PAGE < result.total, loading: false})
      } catch (err) {
        this.setData({loading: false, error: err.message, networkError: !!err.network})
        api.showError(err)
      }
    },
    onRetry() { return this.loadPage(1) },
    openTicket(e) { wx.navigateTo({url: `/pages/complaint/detail?id=${e.currentTarget.dataset.id}`}) },
    onNew() { wx.switchTab({url: '/pages/complaint/new'}) },
  },
})
