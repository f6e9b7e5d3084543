// Zalando's Tailor composing the same three fragments as the shell's /dashboard, streamed.
// The template (Tailor's own format, tailor-templates/dashboard.html) is parsed once and the
// parsed form reused for every page, Tailor's fastest setup. No fragment is `primary`: as
// Tailor's docs advise for streaming, the head leaves before the fragments are in. TEMPLATE
// picks another template of tailor-templates (`dashboard-slow-first`: the user menu
// `async`). With COMPRESS=1 (bench/run's `browser` scenario) the page goes through Express's
// `compression` middleware, as a Node server usually compresses (brotli quality 4, gzip
// level 6). Bench only.
const http = require('http');
const path = require('path');
const fs = require('fs');
const Tailor = require('node-tailor');

const port = Number(process.env.PORT || 8101);
const template = fs
  .readFileSync(path.join(__dirname, 'tailor-templates', `${process.env.TEMPLATE || 'dashboard'}.html`), 'utf8')
  .replaceAll('{{ACCOUNTS_URL}}', process.env.ACCOUNTS_URL || 'http://127.0.0.1:4000')
  .replaceAll('{{DASHBOARD_URL}}', process.env.DASHBOARD_URL || 'http://127.0.0.1:3000')
  .replaceAll('{{PRICING_URL}}', process.env.PRICING_URL || 'http://127.0.0.1:1313');

let parsed = null;
const tailor = new Tailor({
  fetchTemplate: (request, parseTemplate) => {
    parsed = parsed || parseTemplate(template);
    return parsed;
  },
});
const compress = process.env.COMPRESS === '1' ? require('compression')() : null;
const handler = compress
  ? (req, res) => compress(req, res, () => tailor.requestHandler(req, res))
  : tailor.requestHandler;
http.createServer(handler).listen(port, '127.0.0.1');
