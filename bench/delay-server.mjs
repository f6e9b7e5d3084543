// The late fragment of bench/run's `slow-fragment` scenario: serves one static fake service
// of bench/static (its manifest, fragments, assets, Podium manifests, /healthz, /readyz) under
// the same contract as the nginx origin, and answers GET /fragments/… DELAY_MS late (300 by
// default). Everything else answers at once, so the composers read their manifests without
// waiting. Bench only; listens on 127.0.0.1.
//
//   ROOT=bench/static/dashboard PORT=18522 DELAY_MS=300 node bench/delay-server.mjs
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';

const root = path.resolve(process.env.ROOT || 'bench/static/dashboard');
const port = Number(process.env.PORT || 18522);
const delayMs = Number(process.env.DELAY_MS ?? 300);
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'manifest.json'), 'utf8'));
const types = { '.css': 'text/css; charset=utf-8', '.json': 'application/json; charset=utf-8' };

// Every file, read once: path -> { body, type, etag }.
const files = new Map();
for (const dir of ['', 'fragments', 'assets']) {
  const full = path.join(root, dir);
  if (!fs.existsSync(full)) continue;
  for (const name of fs.readdirSync(full)) {
    const file = path.join(full, name);
    if (!fs.statSync(file).isFile()) continue;
    const body = fs.readFileSync(file);
    const type = types[path.extname(name)] || 'text/html; charset=utf-8';
    const etag = `"${crypto.createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
    files.set(`/${dir ? `${dir}/` : ''}${name}`, { body, type, etag });
  }
}

http
  .createServer((req, res) => {
    const url = req.url.split('?')[0];
    if (url === '/healthz' || url === '/readyz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok\n');
      return;
    }
    const file = files.get(url);
    if (!file || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
      return;
    }
    const headers = { 'content-type': file.type, 'cache-control': 'no-cache', etag: file.etag };
    const fragment = url.startsWith('/fragments/');
    if (fragment) headers['x-fragment-version'] = manifest.version;
    const send = () => {
      if (req.headers['if-none-match'] === file.etag) {
        res.writeHead(304, headers);
        res.end();
        return;
      }
      headers['content-length'] = file.body.length;
      res.writeHead(200, headers);
      res.end(req.method === 'HEAD' ? undefined : file.body);
    };
    if (fragment && delayMs > 0) setTimeout(send, delayMs);
    else send();
  })
  .listen(port, '127.0.0.1');
