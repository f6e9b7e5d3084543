// Podium's layout server composing the same three fragments as the shell's /dashboard.
// Podium reads a Podium manifest per podlet. PODIUM_MANIFESTS (`usermenu=URL,overview=URL,
// teaser=URL`) names them where the origin serves them (bench/static/*/*.podium.json on the
// static origin and the delay server); without it, this process serves one small manifest
// per fragment itself, whose `content` points at our fragment servers (the `services`
// scenario: our services speak our contract, not Podium's). With COMPRESS=1 (bench/run's
// `browser` scenario) the page goes through Express's `compression` middleware, as a Node
// server usually compresses. Bench only.
import http from 'node:http';
import compression from 'compression';
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

let manifests = {};
if (process.env.PODIUM_MANIFESTS) {
  for (const pair of process.env.PODIUM_MANIFESTS.split(',')) {
    const [name, uri] = pair.split('=');
    manifests[name] = uri;
  }
} else {
  http
    .createServer((req, res) => {
      const name = req.url.replace(/^\//, '').replace(/\.json$/, '');
      if (!fragments[name]) { res.statusCode = 404; res.end(); return; }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ name, version: '1.0.0', content: fragments[name], fallback: '', js: [], css: [] }));
    })
    .listen(manifestPort, '127.0.0.1');
  manifests = Object.fromEntries(
    Object.keys(fragments).map((name) => [name, `http://127.0.0.1:${manifestPort}/${name}.json`]),
  );
}

const layout = new Layout({ name: 'benchLayout', pathname: '/' });
const podlets = ['usermenu', 'overview', 'teaser'].map((name) =>
  layout.client.register({ name, uri: manifests[name], timeout: 1000 }),
);

const compress = process.env.COMPRESS === '1' ? compression() : null;

async function page(req, res) {
  const incoming = new HttpIncoming(req, res);
  await layout.process(incoming, { proxy: false });
  const [userMenu, overview, teaser] = await Promise.all(podlets.map((p) => p.fetch(incoming)));
  res.setHeader('content-type', 'text/html; charset=utf-8');
  incoming.view = { title: 'Dashboard' };
  res.end(layout.render(incoming, `<header>${userMenu}</header><main>${overview}${teaser}</main>`));
}

http
  .createServer((req, res) => (compress ? compress(req, res, () => page(req, res)) : page(req, res)))
  .listen(port, '127.0.0.1');
