// Exits 0 when a Docker-compatible engine answers GET /_ping on DOCKER_HOST (unix:// or tcp://)
// or the default socket. Dependency-free so that setup can run it before `npm ci`.
import http from 'node:http';

const host = process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
const target = host.startsWith('unix://')
  ? { socketPath: host.slice('unix://'.length) }
  : (() => {
      const url = new URL(host.replace(/^tcp:/, 'http:'));
      return { host: url.hostname, port: Number(url.port || 2375) };
    })();

const req = http.request({ ...target, path: '/_ping', method: 'GET', timeout: 3000 }, (res) => {
  let body = '';
  res.on('data', (chunk) => (body += chunk));
  res.on('end', () => process.exit(res.statusCode === 200 && body.trim() === 'OK' ? 0 : 1));
});
req.on('timeout', () => req.destroy(new Error('timeout')));
req.on('error', () => process.exit(1));
req.end();
