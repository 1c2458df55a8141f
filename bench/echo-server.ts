/**
 * The bench's sink, run as its own process: `echo` (default) writes every byte back; `discard` reads and drops (the
 * throughput sink when iperf3 is absent). Prints its port once listening.
 */
import net from 'node:net';

const mode = process.argv[2] === 'discard' ? 'discard' : 'echo';
const server = net.createServer({ noDelay: true }, (socket) => {
  socket.on('error', () => socket.destroy());
  if (mode === 'echo') socket.pipe(socket);
  else socket.resume();
});
server.maxConnections = 100_000;
server.listen(0, '127.0.0.1', 4096, () => {
  process.stdout.write(`${mode} listening on ${(server.address() as net.AddressInfo).port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
