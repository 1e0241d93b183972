// 我的关注: the items the resident follows, the messages each template may still bring, unsubscribe.
const api = require('../../utils/api')
const a11y = require('../../utils/a11y')
const format = require('../../utils/format')

const KIND_LABELS = {progress_update: '项目进展', complaint_replied: '诉求答复', please_evaluate: '评价提醒',
  rectification_done: '整改反馈'}

Component({
  behaviors: [a11y.behavior],
  data: {items: [], quotas: [], loading: false, error: '', networkError: false},
  methods: {
    onLoad() { return this.load() },
    onShow() { return this.data.loading ? Promise.resolve() : this.load() },
    async load() {
      this.setData({loading: true, error: '', networkError: false})
      try {
        const mine = await api.get('/api/v1/me/subscriptions', {auth: true})
        this.setData({
          loading: false,
          items: mine.items.map(s => Object.assign({}, s, {key: s.project.id, since: format.date(s.subscribed_at)})),
          quotas: (mine.quotas || []).map(q => Object.assign({}, q, {label: KIND_LABELS[q.kind] || q.kind,
            remainingText: q.remaining === null || q.remaining === undefined ? '长期有效' : `还可收到 ${q.remaining} 条`})),
        })
      } catch (err) {
        this.setData({loading: false, error: err.message, networkError: !!err.network})
        api.showError(err)
      }
    },
    async onUnsubscribe(e) {
      const id = Number(e.currentTarget.dataset.id)
      try {
        await api.del(`/api/v1/projects/${id}/subscriptions`, {auth: true})
        this.setData({items: this.data.items.filter(s => s.project.id !== id)})
        wx.showToast({title: '已取消关注', icon: 'success'})
      } catch (err) {
        api.showError(err)
      }
    },
    openProject(e) { wx.navigateTo({url: `/pages/project/detail?id=${e.currentTarget.dataset.id}`}) },
    onRetry() { return this.load() },
  },
})
