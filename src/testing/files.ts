/**
 * The test server's file system: a Map of absolute path -> bytes. Directories exist implicitly
 * (any prefix of a file path, and the root). Paths are resolved against a working directory
 * with `.` and `..` handled and never escaping the root.
 */

export type FileMap = Map<string, Uint8Array>;

const encoder = new TextEncoder();

export function toFileMap(files: Iterable<[string, Uint8Array | string]> | Record<string, Uint8Array | string> | undefined): FileMap {
  const map: FileMap = new Map();
  if (!files) return map;
  const entries = Symbol.iterator in files ? [...(files as Iterable<[string, Uint8Array | string]>)] : Object.entries(files);
  for (const [path, content] of entries) {
    map.set(resolvePath('/', path), typeof content === 'string' ? encoder.encode(content) : content);
  }
  return map;
}

export function resolvePath(cwd: string, path: string): string {
  const parts = (path.startsWith('/') ? path : `${cwd}/${path}`).split('/');
  const out: string[] = [];
  for (const p of parts) {
    if (p === '' || p === '.') continue;
    if (p === '..') out.pop();
    else out.push(p);
  }
  return `/${out.join('/')}`;
}

export function isDirectory(files: FileMap, path: string): boolean {
  if (path === '/') return true;
  const prefix = `${path}/`;
  for (const key of files.keys()) if (key.startsWith(prefix)) return true;
  return false;
}

/** Entries directly under `dir`: files with their size, sub-directories with null. */
export function listDirectory(files: FileMap, dir: string): Array<{ name: string; size: number | null }> {
  const prefix = dir === '/' ? '/' : `${dir}/`;
  const seen = new Map<string, number | null>();
  for (const [key, bytes] of files) {
    if (!key.startsWith(prefix)) continue;
    const rest = key.slice(prefix.length);
    const slash = rest.indexOf('/');
    if (slash < 0) seen.set(rest, bytes.length);
    else seen.set(rest.slice(0, slash), null);
  }
  return [...seen].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, size]) => ({ name, size }));
}

/** One `ls -l` style line, as most servers send in LIST output. */
export function listLine(name: string, size: number | null): string {
  const kind = size === null ? 'drwxr-xr-x' : '-rw-r--r--';
  return `${kind} 1 ftp ftp ${String(size ?? 0).padStart(10)} Jan 01 00:00 ${name}\r\n`;
}
