// Podium's layout server composing the same three fragments as the shell's /dashboard.
// Podium speaks its own manifest format, so this process also serves one small Podium
// manifest per fragment whose `content` points at our fragment servers. Bench only.
import http from 'node:http';
import Layout from '@podium/layout';
import { HttpIncoming } from '@podium/utils';

const port = Number(process.env.PORT || 8102);
const manifestPort = port + 100;
const up = (name, fallback) => process.env[name] || fallback;
const fragments = {
  usermenu: `${up('ACCOUNTS_URL', 'http://127.0.0.1:4000')}/fragments/user-menu`,
  overview: `${up('DASHBOARD_URL', 'http://127.0.0.1:3000')}/fragments/overview`,
  teaser: `${up('PRICING_URL', 'http://127.0.0.1:1313')}/fragments/teaser`,
};

http
  .createServer((req, res) => {
    const name = req.url.replace(/^\//, '').replace(/\.json$/, '');
    if (!fragments[name]) { res.statusCode = 404; res.end(); return; }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ name, version: '1.0.0', content: fragments[name], fallback: '', js: [], css: [] }));
  })
  .listen(manifestPort, '127.0.0.1');

const layout = new Layout({ name: 'benchLayout', pathname: '/' });
const podlets = Object.keys(fragments).map((name) =>
  layout.client.register({ name, uri: `http://127.0.0.1:${manifestPort}/${name}.json`, timeout: 1000 }),
);

http
  .createServer(async (req, res) => {
    const incoming = new HttpIncoming(req, res);
    await layout.process(incoming, { proxy: false });
    const [userMenu, overview, teaser] = await Promise.all(podlets.map((p) => p.fetch(incoming)));
    res.setHeader('content-type', 'text/html; charset=utf-8');
    incoming.view = { title: 'Dashboard' };
    res.end(layout.render(incoming, `<header>${userMenu}</header><main>${overview}${teaser}</main>`));
  })
  .listen(port, '127.0.0.1');
