const api = require('./utils/api')
const config = require('./utils/config')

App({
  onLaunch() {
    api.configure({base: config.API_BASE})
  },
})
