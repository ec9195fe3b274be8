// Merges the engine's multiplexed exec stream (non-TTY attach) into one byte stream, in the
// order the frames arrive. Frame format (Docker Engine API, "Attach to a container / Stream
// format"): 8-byte header [type, 0, 0, 0, size uint32 BE] then `size` bytes; type 1 stdout,
// 2 stderr. A Transform rather than modem.demuxStream: demuxStream writes with no regard to
// backpressure, this one lets `pipe` pause the socket when the reader is slow.
import { Transform, type TransformCallback } from 'node:stream';

const HEADER = 8;

export class DemuxStream extends Transform {
  private readonly header = Buffer.alloc(HEADER);
  private headerFill = 0;
  /** Payload bytes still to pass through for the current frame. */
  private remaining = 0;
  /** Set when the data turned out not to be framed: everything passes through as is. */
  private raw = false;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    let off = 0;
    while (off < chunk.length) {
      if (this.raw) {
        this.push(chunk.subarray(off));
        break;
      }
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, chunk.length - off);
        this.push(chunk.subarray(off, off + n));
        this.remaining -= n;
        off += n;
        continue;
      }
      const n = Math.min(HEADER - this.headerFill, chunk.length - off);
      chunk.copy(this.header, this.headerFill, off, off + n);
      this.headerFill += n;
      off += n;
      if (this.headerFill < HEADER) break;
      this.headerFill = 0;
      const type = this.header[0]!;
      if (type > 2 || this.header[1] !== 0 || this.header[2] !== 0 || this.header[3] !== 0) {
        // Not a frame header: an engine that sent a raw stream. Keep every byte.
        this.raw = true;
        this.push(Buffer.from(this.header));
        continue;
      }
      this.remaining = this.header.readUInt32BE(4);
    }
    cb();
  }

  override _flush(cb: TransformCallback): void {
    // A header cut off by the end of the stream is not output; nothing else is held back.
    cb();
  }
}
