/**
 * Following TLS record framing (RFC 8446 section 5.1, RFC 5246 section 6.2) on a control channel
 * that went encrypted (FTP's `AUTH TLS`, RFC 4217; IRC's STARTTLS). Every byte is forwarded
 * untouched; the framing is followed only to notice, at a record boundary, a byte that cannot
 * start a record: the peer has gone back to plaintext (FTP's `CCC`, whose exchange is itself
 * encrypted and invisible), to know where a record ends (a record is a unit of activity), and to
 * notice the first application-data record: the TLS handshake of that direction is done (or the
 * peer forged one, which the other end answers by closing the connection).
 */

/** Record header: content type (1), legacy version (2), length (2). */
const HEADER_LENGTH = 5;
const CONTENT_TYPE_MIN = 20; // change_cipher_spec
const CONTENT_TYPE_MAX = 24; // heartbeat
/** application_data: in TLS 1.3 every record after the ServerHello, in 1.2 after the Finished messages. */
const APPLICATION_DATA = 23;
/** Largest record body: 2^14 plaintext plus the 2048 bytes of expansion TLS 1.2 allows. */
export const MAX_RECORD_BODY = 16384 + 2048;

/**
 * Where the last `advance` left the stream.
 * - `continue`: all of it was records (or a record's start).
 * - `plaintext`: a byte at a record boundary that is not a content type: plaintext resumes at the
 *   index returned.
 * - `broken`: a header that is not TLS (bad version or length): framing is lost.
 */
export type TlsStatus = 'continue' | 'plaintext' | 'broken';

export class TlsRecordFollower {
  private remaining = 0;
  private recordLength = 0;
  private readonly header = new Uint8Array(HEADER_LENGTH);
  private headerLength = 0;
  /** Outcome of the last `advance`. */
  status: TlsStatus = 'continue';
  /** A valid application-data header has been read, and `takeApplicationData` not yet told so. */
  private applicationDataUntold = false;
  private applicationDataSeen = false;

  /** Skip over buf[i..n) following the records. Returns the index where it stopped. */
  advance(buf: Uint8Array, i: number, n: number): number {
    while (i < n) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, n - i);
        this.remaining -= take;
        i += take;
        continue;
      }
      const b = buf[i]!;
      if (this.headerLength === 0 && (b < CONTENT_TYPE_MIN || b > CONTENT_TYPE_MAX)) {
        this.status = 'plaintext';
        return i;
      }
      this.header[this.headerLength++] = b;
      i++;
      if (this.headerLength === HEADER_LENGTH) {
        this.headerLength = 0;
        const length = (this.header[3]! << 8) | this.header[4]!;
        if (this.header[1] !== 3 || length > MAX_RECORD_BODY) {
          this.status = 'broken';
          return i;
        }
        this.remaining = length;
        this.recordLength = length;
        if (this.header[0] === APPLICATION_DATA && !this.applicationDataSeen) {
          this.applicationDataSeen = true;
          this.applicationDataUntold = true;
        }
      }
    }
    this.status = 'continue';
    return n;
  }

  /**
   * True once, after the `advance` that read the first application-data header: the caller can
   * report it right after that call, before anything later in the stream.
   */
  takeApplicationData(): boolean {
    const untold = this.applicationDataUntold;
    this.applicationDataUntold = false;
    return untold;
  }

  /** Bytes of the record in progress consumed so far (0 at a boundary). */
  get consumedOfRecord(): number {
    if (this.headerLength > 0) return this.headerLength;
    return this.remaining > 0 ? HEADER_LENGTH + this.recordLength - this.remaining : 0;
  }

  /** True between records (no partial header or body pending). */
  get atBoundary(): boolean {
    return this.remaining === 0 && this.headerLength === 0;
  }
}
