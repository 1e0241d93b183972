const fs = require('fs')

module.exports = async () => {
  if (globalThis.__MP_TEMPLATE_DIR__) fs.rmSync(globalThis.__MP_TEMPLATE_DIR__, {recursive: true, force: true})
}
