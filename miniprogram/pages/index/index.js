// 首页: the current plan's items by category, with search (q), filters (category, lead unit, township), pull to
// refresh and paging (GET /api/v1/projects, 20 a page).
const api = require('../../utils/api')
const a11y = require('../../utils/a11y')
const format = require('../../utils/format')

const PER_PAGE = 20

function groupByCategory(items) {
  const groups = []
  const byId = {}
  items.forEach(item => {
    const category = item.category || {id: 0, name: '其他'}
    if (!byId[category.id]) {
      byId[category.id] = {id: category.id, name: category.name, code: category.code, items: []}
      groups.push(byId[category.id])
    }
    byId[category.id].items.push(Object.assign({}, item, {
      percent: format.percent(item.progress),
      statusText: item.status_label || format.statusLabel(item.status),
      leadUnit: (item.lead_units && item.lead_units[0] && item.lead_units[0].name) || '',
    }))
  })
  return groups
}

Component({
  behaviors: [a11y.behavior],
  data: {
    plan: null,
    q: '',
    categories: [{id: '', name: '全部类别'}],
    units: [{id: '', name: '全部牵头单位'}],
    townships: ['全部乡镇'],
    categoryIndex: 0,
    unitIndex: 0,
    townshipIndex: 0,
    items: [],
    groups: [],
    page: 0,
    total: 0,
    hasMore: false,
    loading: false,
    error: '',
    networkError: false,
  },
  methods: {
    onLoad() {
      return this.refresh()
    },
    onPullDownRefresh() {
      return this.refresh().then(() => wx.stopPullDownRefresh())
    },
    onReachBottom() {
      if (this.data.hasMore && !this.data.loading) return this.loadPage(this.data.page + 1)
      return Promise.resolve()
    },
    async refresh() {
      if (!this.data.plan) await this.loadPlan()
      return this.loadPage(1)
    },
    async loadPlan() {
      try {
        const plan = await api.get('/api/v1/plans/current')
        const units = {}
        plan.categories.forEach(c => c.projects.forEach(p => (p.lead_units || []).forEach(u => { units[u.id] = u.name })))
        this.setData({
          plan: {id: plan.id, title: plan.title, year: plan.year},
          categories: [{id: '', name: '全部类别'}].concat(plan.categories.map(c => ({id: c.id, name: `${c.code} ${c.name}`}))),
          units: [{id: '', name: '全部牵头单位'}].concat(Object.keys(units).map(id => ({id, name: units[id]}))),
          townships: ['全部乡镇'].concat(plan.townships || []),
        })
      } catch (err) {
        this.showFailure(err)
      }
    },
    filters() {
      const d = this.data
      return {
        q: d.q.trim(),
        category: d.categories[d.categoryIndex].id,
        unit: d.units[d.unitIndex].id,
        township: d.townshipIndex > 0 ? d.townships[d.townshipIndex] : '',
      }
    },
    async loadPage(page) {
      // Filters change faster than answers come back: only the answer to the latest question is shown.
      const ticket = (this.loadTicket = (this.loadTicket || 0) + 1)
      this.setData({loading: true, error: '', networkError: false})
      try {
        const result = await api.get('/api/v1/projects', {params: Object.assign({page, per_page: PER_PAGE}, this.filters())})
        if (ticket !== this.loadTicket) return
        const items = page === 1 ? result.items : this.data.items.concat(result.items)
        this.setData({
          items, groups: groupByCategory(items), page, total: result.total,
          hasMore: page * PER_PAGE < result.total, loading: false,
        })
      } catch (err) {
        if (ticket !== this.loadTicket) return
        this.setData({loading: false})
        this.showFailure(err)
      }
    },
    showFailure(err) {
      this.setData({error: err.message, networkError: !!err.network})
      api.showError(err)
    },
    onSearchInput(e) { this.setData({q: e.detail.value}) },
    onSearch() { return this.loadPage(1) },
    onCategoryChange(e) { this.setData({categoryIndex: Number(e.detail.value)}); return this.loadPage(1) },
    onUnitChange(e) { this.setData({unitIndex: Number(e.detail.value)}); return this.loadPage(1) },
    onTownshipChange(e) { this.setData({townshipIndex: Number(e.detail.value)}); return this.loadPage(1) },
    onRetry() { return this.refresh() },
    onMore() { return this.onReachBottom() },
    openProject(e) {
      wx.navigateTo({url: `/pages/project/detail?id=${e.currentTarget.dataset.id}`})
    },
  },
})
