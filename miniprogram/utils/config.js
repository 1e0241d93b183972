// Where the backend is. The only setting of the client; no secret belongs here (the AppSecret stays on the
// server). DevTools: set it to http://127.0.0.1:5000 and tick 「不校验合法域名」 (see README.md).
module.exports = {
  API_BASE: 'https://minsheng.example.gov.cn',
}
