// 项目详情 (pages/project/detail?id=, also what a progress subscribe message opens): targets with units and
// baselines, per-township figures, the published timeline with photos, the history of changes, lead units,
// satisfaction; 关注 (wx.requestSubscribeMessage with the template ids the backend names, then the subscription
// with what the resident accepted); rating 1–5 with a comment.
const api = require('../../utils/api')
const a11y = require('../../utils/a11y')
const format = require('../../utils/format')

const FIELD_LABELS = {target: '目标', current: '完成值', baseline: '基数'}

function metricView(metric) {
  const hasBaseline = metric.baseline !== null && metric.baseline !== undefined
  return Object.assign({}, metric, {
    percent: format.percent(metric.progress),
    // Raised standards read "650 → 700 元/月": from the baseline to the target.
    targetText: hasBaseline ? `${metric.baseline} → ${metric.target} ${metric.unit}` : `${metric.target} ${metric.unit}`,
    townships: (metric.townships || []).map(t => Object.assign({}, t, {percent: format.percent(t.progress)})),
  })
}

function historyView(entry) {
  const value = v => (v === null || v === undefined ? '—' : v)
  return Object.assign({}, entry, {
    when: format.dateTime(entry.changed_at),
    who: entry.unit ? entry.unit.name : '计划导入',
    what: `${entry.metric_name}${entry.township ? `（${entry.township}）` : ''}${FIELD_LABELS[entry.field] || entry.field}`,
    change: `${value(entry.old_value)} → ${value(entry.new_value)} ${entry.unit_of_measure || ''}`,
  })
}

function satisfactionText(sat) {
  return sat && sat.count ? `${sat.average} 分（${sat.count} 人评价）` : '暂无评价'
}

Component({
  behaviors: [a11y.behavior],
  data: {
    id: null,
    project: null,
    metrics: [],
    updates: [],
    history: [],
    leadUnits: '',
    satisfactionText: '',
    subscribed: false,
    rating: null,
    level: 0,
    comment: '',
    levels: [5, 4, 3, 2, 1].map(level => ({level, label: format.SATISFACTION[level]})),
    error: '',
    networkError: false,
    message: '',
  },
  methods: {
    onLoad(query) {
      this.setData({id: Number(query.id)})
      return this.load()
    },
    async load() {
      const id = this.data.id
      this.setData({error: '', networkError: false})
      try {
        const [project, updates, history] = await Promise.all([
          api.get(`/api/v1/projects/${id}`),
          api.get(`/api/v1/projects/${id}/updates`, {params: {per_page: 50}}),
          api.get(`/api/v1/projects/${id}/history`, {params: {per_page: 50}}),
        ])
        this.setData({
          project: Object.assign({}, project, {percent: format.percent(project.progress),
            statusText: project.status_label || format.statusLabel(project.status)}),
          metrics: project.metrics.map(metricView),
          updates: updates.items.map(u => Object.assign({}, u, {when: format.dateTime(u.published_at)})),
          history: history.items.map(historyView),
          leadUnits: (project.lead_units || []).map(u => u.name).join('、'),
          satisfactionText: satisfactionText(project.satisfaction),
        })
      } catch (err) {
        this.setData({error: err.message, networkError: !!err.network})
        api.showError(err)
        return
      }
      await this.loadMine()
    },
    // The resident's own state: subscribed or not, their rating (404 = not rated yet).
    async loadMine() {
      try {
        const mine = await api.get('/api/v1/me/subscriptions', {auth: true})
        this.setData({subscribed: mine.items.some(s => s.project.id === this.data.id)})
      } catch (err) { /* shown when the resident acts */ }
      try {
        const rating = await api.get(`/api/v1/projects/${this.data.id}/rating`, {auth: true})
        this.setData({rating, level: rating.level, comment: rating.comment || ''})
      } catch (err) {
        if (err.status !== 404) api.showError(err)
      }
    },
    requestSubscribe(tmplIds) {
      return new Promise(resolve => {
        if (!tmplIds.length) return resolve([])
        wx.requestSubscribeMessage({
          tmplIds,
          success: res => resolve(tmplIds.filter(id => res[id] === 'accept')),
          // Refused or unsupported: still follow the item, with no message quota.
          fail: () => resolve([]),
        })
      })
    },
    async onSubscribe() {
      try {
        const templates = await api.get('/api/v1/wechat/templates')
        const ids = ['progress_update'].map(kind => templates[kind] && templates[kind].template_id).filter(Boolean)
        const accepted = await this.requestSubscribe(ids)
        await api.post(`/api/v1/projects/${this.data.id}/subscriptions`, {template_ids: accepted}, {auth: true})
        this.setData({subscribed: true, message: accepted.length ? '已关注，项目有进展时将通知您' : '已关注（未开启消息提醒）'})
        wx.showToast({title: '已关注', icon: 'success'})
      } catch (err) {
        this.setData({message: err.message})
        api.showError(err)
      }
    },
    async onUnsubscribe() {
      try {
        await api.del(`/api/v1/projects/${this.data.id}/subscriptions`, {auth: true})
        this.setData({subscribed: false, message: '已取消关注'})
      } catch (err) {
        api.showError(err)
      }
    },
    onPickLevel(e) { this.setData({level: Number(e.currentTarget.dataset.level)}) },
    onComment(e) { this.setData({comment: e.detail.value}) },
    async onRate() {
      if (!this.data.level) {
        wx.showToast({title: '请选择满意程度', icon: 'none'})
        return
      }
      const body = {level: this.data.level}
      if (this.data.comment.trim()) body.comment = this.data.comment.trim()
      try {
        const rating = await api.put(`/api/v1/projects/${this.data.id}/rating`, body, {auth: true})
        this.setData({rating, message: `感谢评价：${rating.label}`})
        wx.showToast({title: '评价成功', icon: 'success'})
        const project = await api.get(`/api/v1/projects/${this.data.id}`)
        this.setData({satisfactionText: satisfactionText(project.satisfaction)})
      } catch (err) {
        this.setData({message: err.message})
        api.showError(err)
      }
    },
    onRetry() { return this.load() },
    previewImage(e) {
      const url = e.currentTarget.dataset.url
      if (wx.previewImage) wx.previewImage({current: url, urls: [url]})
    },
  },
})
