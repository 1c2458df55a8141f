import net from 'node:net';
import { join } from 'node:path';
import { makePki, writeL4Config, startServe, startAgentChild, startEcho, stopAllChildren } from './env.ts';
const pki = await makePki();
try {
  const echo = await startEcho();
  const cfg = writeL4Config(pki.dir, [{ name: 'echo', host: 'echo.bench.internal', port: echo.port }]);
  const gw = await startServe(cfg, pki.caDir, join(pki.dir, 'access.log'));
  const agent = await startAgentChild(cfg, pki.caDir, gw.hbone, [`echo.bench.internal:${echo.port}`]);
  const port = agent.forwards.get(`echo.bench.internal:${echo.port}`)!;
  const s = net.connect(port, '127.0.0.1');
  s.write('hello');
  const got = await new Promise((r) => s.once('data', (d) => r(d.toString())));
  console.log('got', got);
  s.destroy();
  await new Promise((r) => setTimeout(r, 300));
  console.log(agent.output(), gw.output());
} finally { await stopAllChildren(); pki.cleanup(); }
