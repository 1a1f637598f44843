import { inflateSync } from 'fflate';
import { CheckpointError } from './errors.js';

/** One file of a zip archive, located but not yet read. */
export interface ZipEntry {
  readonly name: string;
  /** 0 = stored, 8 = deflated. */
  readonly method: number;
  readonly compressedSize: number;
  readonly size: number;
  /** Offset of the entry's local file header. */
  readonly localHeaderOffset: number;
  /** CRC-32 of the uncompressed data (checked for deflated entries). */
  readonly crc32: number;
}

/** A zip archive's directory, with bounds-checked access to its entries. */
export interface ZipArchive {
  readonly entries: ReadonlyMap<string, ZipEntry>;
  /** The entry's bytes: a zero-copy view for stored entries, inflated for deflated ones. */
  read(entry: ZipEntry): Uint8Array;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
/** Deflate cannot expand data by more than ~1032×. */
const MAX_DEFLATE_RATIO = 1100;

/** Whether `bytes` starts like a zip archive (a local file header or an empty archive). */
export function looksLikeZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && (bytes[2] === 3 || bytes[2] === 5) && (bytes[3] === 4 || bytes[3] === 6);
}

let crcTable: Uint32Array | undefined;

/** The CRC-32 (IEEE) of `data`, as zip records it. */
export function crc32(data: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function big(v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new CheckpointError('corrupt', `zip ${what} ${v} is out of range`);
  return Number(v);
}

/**
 * Parses a zip archive's central directory (zip64 included) with every offset and size checked
 * against the file before use. Entries are read lazily by {@link ZipArchive.read}.
 */
export function openZip(bytes: Uint8Array): ZipArchive {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = bytes.byteLength;
  if (len < 22) throw new CheckpointError('truncated', `zip archive of ${len} bytes is too short for an end-of-central-directory record`);

  // The end-of-central-directory record sits in the last 22 + 65535 (comment) bytes.
  let eocd = -1;
  for (let i = len - 22; i >= Math.max(0, len - 22 - 0xffff); i--) {
    if (view.getUint32(i, true) === EOCD && i + 22 + view.getUint16(i + 20, true) <= len) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new CheckpointError('truncated', 'zip archive has no end-of-central-directory record (truncated file?)');

  let count = view.getUint16(eocd + 10, true);
  let cdSize = view.getUint32(eocd + 12, true);
  let cdOffset = view.getUint32(eocd + 16, true);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || view.getUint32(loc, true) !== ZIP64_LOCATOR) {
      throw new CheckpointError('corrupt', 'zip archive needs zip64 records but has no zip64 end-of-central-directory locator');
    }
    const rec = big(view.getBigUint64(loc + 8, true), 'zip64 record offset');
    if (rec + 56 > loc || view.getUint32(rec, true) !== ZIP64_EOCD) {
      throw new CheckpointError('corrupt', `zip64 end-of-central-directory record at ${rec} is missing`);
    }
    count = big(view.getBigUint64(rec + 32, true), 'entry count');
    cdSize = big(view.getBigUint64(rec + 40, true), 'central directory size');
    cdOffset = big(view.getBigUint64(rec + 48, true), 'central directory offset');
  }
  if (cdOffset + cdSize > len) {
    throw new CheckpointError('truncated', `zip central directory spans bytes ${cdOffset}..${cdOffset + cdSize} but the file holds ${len}`);
  }
  if (count * 46 > cdSize) throw new CheckpointError('corrupt', `zip central directory of ${cdSize} bytes cannot hold ${count} entries`);

  const entries = new Map<string, ZipEntry>();
  const cdEnd = cdOffset + cdSize;
  let p = cdOffset;
  const decoder = new TextDecoder('utf-8');
  for (let i = 0; i < count; i++) {
    if (p + 46 > cdEnd || view.getUint32(p, true) !== CENTRAL) {
      throw new CheckpointError('corrupt', `zip central directory entry ${i} at byte ${p} is malformed`);
    }
    const method = view.getUint16(p + 10, true);
    const crc32 = view.getUint32(p + 16, true);
    let compressedSize = view.getUint32(p + 20, true);
    let size = view.getUint32(p + 24, true);
    const nameLen = view.getUint16(p + 28, true);
    const extraLen = view.getUint16(p + 30, true);
    const commentLen = view.getUint16(p + 32, true);
    let localHeaderOffset = view.getUint32(p + 42, true);
    const next = p + 46 + nameLen + extraLen + commentLen;
    if (next > cdEnd) throw new CheckpointError('corrupt', `zip central directory entry ${i} overruns the directory`);
    const name = decoder.decode(bytes.subarray(p + 46, p + 46 + nameLen));
    // zip64 extended information: the 64-bit values of the fields that hold 0xffffffff, in order.
    let e = p + 46 + nameLen;
    const extraEnd = e + extraLen;
    while (e + 4 <= extraEnd) {
      const id = view.getUint16(e, true);
      const sz = view.getUint16(e + 2, true);
      if (e + 4 + sz > extraEnd) throw new CheckpointError('corrupt', `zip entry "${name}" has a malformed extra field`);
      if (id === 0x0001) {
        let q = e + 4;
        const field = (v: number, what: string): number => {
          if (v !== 0xffffffff) return v;
          if (q + 8 > e + 4 + sz) throw new CheckpointError('corrupt', `zip entry "${name}" lacks its zip64 ${what}`);
          const r = big(view.getBigUint64(q, true), what);
          q += 8;
          return r;
        };
        size = field(size, 'size');
        compressedSize = field(compressedSize, 'compressed size');
        localHeaderOffset = field(localHeaderOffset, 'local header offset');
      }
      e += 4 + sz;
    }
    if (method !== 0 && method !== 8) {
      throw new CheckpointError('unsupported', `zip entry "${name}" uses compression method ${method}; only stored (0) and deflated (8) are supported`);
    }
    if (localHeaderOffset + 30 > len || localHeaderOffset + 30 + compressedSize > len) {
      throw new CheckpointError('truncated', `zip entry "${name}" claims ${compressedSize} bytes at ${localHeaderOffset} but the file holds ${len}`);
    }
    if (method === 0 && compressedSize !== size) {
      throw new CheckpointError('corrupt', `stored zip entry "${name}" has compressed size ${compressedSize} ≠ size ${size}`);
    }
    if (method === 8 && size > compressedSize * MAX_DEFLATE_RATIO + 1024) {
      throw new CheckpointError('too-large', `deflated zip entry "${name}" claims ${size} bytes from ${compressedSize} compressed`);
    }
    entries.set(name, { name, method, compressedSize, size, localHeaderOffset, crc32 });
    p = next;
  }

  const read = (entry: ZipEntry): Uint8Array => {
    const h = entry.localHeaderOffset;
    if (h + 30 > len || view.getUint32(h, true) !== LOCAL) {
      throw new CheckpointError('corrupt', `zip entry "${entry.name}" has no local file header at byte ${h}`);
    }
    const start = h + 30 + view.getUint16(h + 26, true) + view.getUint16(h + 28, true);
    if (start + entry.compressedSize > len) {
      throw new CheckpointError('truncated', `zip entry "${entry.name}" spans bytes ${start}..${start + entry.compressedSize} but the file holds ${len}`);
    }
    const raw = bytes.subarray(start, start + entry.compressedSize);
    if (entry.method === 0) return raw;
    let out: Uint8Array;
    try {
      out = inflateSync(raw, { out: new Uint8Array(entry.size) });
    } catch (err) {
      throw new CheckpointError('corrupt', `zip entry "${entry.name}" does not inflate: ${(err as Error).message}`);
    }
    if (out.length !== entry.size || crc32(out) !== entry.crc32) {
      throw new CheckpointError('corrupt', `zip entry "${entry.name}" does not inflate to its recorded ${entry.size} bytes and CRC-32`);
    }
    return out;
  };
  return { entries, read };
}
