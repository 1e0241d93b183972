// 适老化: large type (1.3×+) and high contrast, one persisted switch each, applied by every page through the
// `a11y` behavior (the page's root carries `a11yClass`). Sizes are in rpx and em and no box has a fixed height,
// so layouts also survive the system font scaling WeChat applies.
const KEY = 'minsheng.a11y'

function load() {
  const saved = wx.getStorageSync(KEY) || {}
  return {large: !!saved.large, contrast: !!saved.contrast}
}

function classOf(settings) {
  return [settings.large ? 'a11y-large' : '', settings.contrast ? 'a11y-contrast' : ''].filter(Boolean).join(' ')
}

function save(settings) {
  wx.setStorageSync(KEY, {large: !!settings.large, contrast: !!settings.contrast})
  return settings
}

const behavior = Behavior({
  data: {a11y: {large: false, contrast: false}, a11yClass: ''},
  lifetimes: {
    attached() { this.applyA11y() },
  },
  pageLifetimes: {
    show() { this.applyA11y() },
  },
  methods: {
    applyA11y() {
      const settings = load()
      this.setData({a11y: settings, a11yClass: classOf(settings)})
    },
  },
})

module.exports = {KEY, load, save, classOf, behavior}
