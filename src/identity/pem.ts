/** Small PEM helpers: split bundles into blocks and write files atomically with a given mode. */
import { chmod, mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { randomBytes } from 'node:crypto';

const CERT_BLOCK_RE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Every CERTIFICATE block in a PEM text, normalised to end with a newline. */
export function splitCertificates(pem: string): string[] {
  return (pem.match(CERT_BLOCK_RE) ?? []).map((block) => `${block.trim()}\n`);
}

/** Join PEM blocks into one bundle text. */
export function joinPem(blocks: readonly string[]): string {
  return blocks.map((b) => (b.endsWith('\n') ? b : `${b}\n`)).join('');
}

/**
 * Write a file so that readers never see it half-written (temp file + rename), with an explicit mode: key files
 * must be 0600 even when they replace an existing file, which `writeFile`'s `mode` alone does not guarantee.
 */
export async function writeFileAtomic(path: string, data: string, mode: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  await writeFile(tmp, data, { mode });
  await chmod(tmp, mode);
  await rename(tmp, path);
}
