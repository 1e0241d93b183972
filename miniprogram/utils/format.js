// Display helpers: decimals arrive as strings ("0.4846"), times with +08:00.
function percent(progress) {
  const value = Number(progress || 0)
  return Math.max(0, Math.min(100, Math.round(value * 1000) / 10))
}

function dateTime(iso) {
  if (!iso) return ''
  return iso.slice(0, 16).replace('T', ' ')
}

function date(iso) {
  return iso ? iso.slice(0, 10) : ''
}

const STATUS_LABELS = {not_started: '未开工', in_progress: '推进中', completed: '已完成'}

function statusLabel(status) {
  return STATUS_LABELS[status] || status || ''
}

const SATISFACTION = {1: '非常不满意', 2: '不满意', 3: '基本满意', 4: '满意', 5: '非常满意'}

module.exports = {percent, dateTime, date, statusLabel, SATISFACTION}
