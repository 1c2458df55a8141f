/**
 * A minimal authoritative DNS server for the quickstart: answers A/AAAA queries for a fixed map of names on a
 * loopback UDP port, NXDOMAIN for anything else. Only Portcullis is pointed at it (`serve --dns-server`), so the
 * machine's resolver is never changed. Hostile packets are answered FORMERR or dropped, never crash the server.
 */
import { createSocket, type Socket } from 'node:dgram';
import { ipFamily } from '../net/ip-syntax.ts';

export interface DnsServer {
  readonly address: { address: string; port: number };
  close(): Promise<void>;
}

const TYPE_A = 1;
const TYPE_AAAA = 28;

/** Parse a query; returns null when the packet is not a well-formed single-question query. */
export function parseQuery(msg: Buffer): { id: number; name: string; type: number; questionEnd: number } | null {
  if (msg.length < 12) return null;
  const id = msg.readUInt16BE(0);
  const flags = msg.readUInt16BE(2);
  if (flags & 0x8000) return null; // a response, not a query
  if (msg.readUInt16BE(4) !== 1) return null;
  let off = 12;
  const labels: string[] = [];
  for (let guard = 0; guard < 128; guard++) {
    if (off >= msg.length) return null;
    const len = msg[off];
    if (len === 0) {
      off++;
      break;
    }
    if (len > 63 || off + 1 + len > msg.length) return null; // no compression pointers in questions
    labels.push(msg.subarray(off + 1, off + 1 + len).toString('latin1'));
    off += 1 + len;
  }
  if (off + 4 > msg.length) return null;
  return { id, name: labels.join('.').toLowerCase(), type: msg.readUInt16BE(off), questionEnd: off + 4 };
}

function ipBytes(ip: string): Buffer {
  if (ipFamily(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  const [l, r] = ip.includes('::') ? ip.split('::') : [ip, ''];
  const left = l ? l.split(':') : [];
  const right = r ? r.split(':') : [];
  const words = [...left, ...new Array(8 - left.length - right.length).fill('0'), ...right];
  const b = Buffer.alloc(16);
  words.forEach((w, i) => b.writeUInt16BE(parseInt(w, 16), i * 2));
  return b;
}

/** Build the answer for a parsed query against `records` (name → addresses). */
function buildAnswer(
  msg: Buffer,
  q: NonNullable<ReturnType<typeof parseQuery>>,
  records: ReadonlyMap<string, readonly string[]>,
): Buffer {
  const addrs = records.get(q.name);
  const wanted = (addrs ?? []).filter((a) =>
    q.type === TYPE_A ? ipFamily(a) === 4 : q.type === TYPE_AAAA ? ipFamily(a) === 6 : false,
  );
  const header = Buffer.alloc(12);
  header.writeUInt16BE(q.id, 0);
  const rcode = addrs === undefined ? 3 : 0; // NXDOMAIN for unknown names
  header.writeUInt16BE(0x8400 | (msg.readUInt16BE(2) & 0x0100) | rcode, 2); // QR, AA, copy RD
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(wanted.length, 6);
  const question = msg.subarray(12, q.questionEnd);
  const answers = wanted.map((a) => {
    const data = ipBytes(a);
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0); // pointer to the question name
    rr.writeUInt16BE(q.type, 2);
    rr.writeUInt16BE(1, 4); // IN
    rr.writeUInt32BE(30, 6); // TTL 30 s, as ztunnel's DNS proxy
    rr.writeUInt16BE(data.length, 10);
    return Buffer.concat([rr, data]);
  });
  return Buffer.concat([header, question, ...answers]);
}

export async function startDnsServer(
  records: Record<string, readonly string[]>,
  host = '127.0.0.1',
  port = 0,
): Promise<DnsServer> {
  const table = new Map(Object.entries(records).map(([k, v]) => [k.toLowerCase(), v]));
  const sock: Socket = createSocket(ipFamily(host) === 6 ? 'udp6' : 'udp4');
  sock.on('message', (msg, rinfo) => {
    const q = parseQuery(msg);
    if (!q) return;
    sock.send(buildAnswer(msg, q, table), rinfo.port, rinfo.address);
  });
  sock.on('error', () => {
    /* a send to a vanished client is not our problem */
  });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(port, host, () => resolve());
  });
  const a = sock.address();
  return {
    address: { address: a.address, port: a.port },
    close: () => new Promise((resolve) => sock.close(() => resolve())),
  };
}
