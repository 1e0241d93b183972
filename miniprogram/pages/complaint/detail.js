// 诉求详情 (pages/complaint/detail?id=, also what the reply and evaluation subscribe messages open): the
// ticket's timeline and replies with their photos, the evaluation (1–5, resolved or not) and reopening with a
// reason, while the backend says they are allowed (can_evaluate, can_reopen).
const api = require('../../utils/api')
const a11y = require('../../utils/a11y')
const format = require('../../utils/format')

Component({
  behaviors: [a11y.behavior],
  data: {
    id: null,
    ticket: null,
    events: [],
    replies: [],
    levels: [5, 4, 3, 2, 1].map(level => ({level, label: format.SATISFACTION[level]})),
    level: 0,
    resolved: null,
    comment: '',
    reason: '',
    error: '',
    networkError: false,
    message: '',
  },
  methods: {
    onLoad(query) {
      this.setData({id: Number(query.id)})
      return this.load()
    },
    show(ticket) {
      this.setData({
        ticket: Object.assign({}, ticket, {when: format.dateTime(ticket.created_at),
          evaluationDue: format.dateTime(ticket.evaluation_due_at)}),
        events: (ticket.events || []).map(e => Object.assign({}, e, {when: format.dateTime(e.at)})),
        replies: (ticket.replies || []).map(r => Object.assign({}, r, {when: format.dateTime(r.replied_at)})),
      })
    },
    async load() {
      this.setData({error: '', networkError: false})
      try {
        this.show(await api.get(`/api/v1/me/complaints/${this.data.id}`, {auth: true}))
      } catch (err) {
        this.setData({error: err.message, networkError: !!err.network})
        api.showError(err)
      }
    },
    onPickLevel(e) { this.setData({level: Number(e.currentTarget.dataset.level)}) },
    onResolved(e) { this.setData({resolved: e.currentTarget.dataset.resolved === 'yes'}) },
    onComment(e) { this.setData({comment: e.detail.value}) },
    onReason(e) { this.setData({reason: e.detail.value}) },
    async onEvaluate() {
      if (!this.data.level || this.data.resolved === null) {
        wx.showToast({title: '请选择满意程度和是否解决', icon: 'none'})
        return
      }
      const body = {level: this.data.level, resolved: this.data.resolved}
      if (this.data.comment.trim()) body.comment = this.data.comment.trim()
      try {
        this.show(await api.post(`/api/v1/me/complaints/${this.data.id}/evaluation`, body, {auth: true}))
        this.setData({message: '感谢您的评价'})
      } catch (err) {
        this.setData({message: err.message})
        api.showError(err)
      }
    },
    async onReopen() {
      if (!this.data.reason.trim()) {
        wx.showToast({title: '请填写申请重办的理由', icon: 'none'})
        return
      }
      try {
        this.show(await api.post(`/api/v1/me/complaints/${this.data.id}/reopen`, {reason: this.data.reason.trim()}, {auth: true}))
        this.setData({message: '已申请重办，承办单位将重新办理', reason: ''})
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
