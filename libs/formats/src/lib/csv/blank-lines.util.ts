const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * Skips what comes before a CSV header that holds nothing: a leading BOM and blank lines (only spaces and
 * tabs), counting the lines so records keep the line numbers of the file. LF, CRLF and a lone CR end a line.
 * The header line keeps its own leading whitespace (a tab may be its first delimiter), up to `maxLineBytes`.
 */
export class LeadingBlankLines {
  /** Blank lines skipped so far. */
  lines = 0;
  done = false;
  private atStart = true;
  /** The start of a BOM cut by the first chunk's end. */
  private bomPart: Buffer | null = null;
  private afterCr = false;
  /** Whitespace of the line being read, which may turn out to be the header's. */
  private lead: Buffer[] = [];
  private leadBytes = 0;

  constructor(private readonly maxLineBytes: number) {}

  /** The bytes of `buf` from the first line that is not blank on (that line's leading whitespace included), or null while all is blank. */
  take(buf: Buffer): Buffer | null {
    let i = 0;
    if (this.atStart) {
      if (this.bomPart) buf = Buffer.concat([this.bomPart, buf]);
      this.bomPart = null;
      if (buf.length < BOM.length && BOM.subarray(0, buf.length).equals(buf)) {
        this.bomPart = Buffer.from(buf);
        return null;
      }
      this.atStart = false;
      if (buf.subarray(0, BOM.length).equals(BOM)) i = BOM.length;
    }
    let lineStart = i;
    for (; i < buf.length; i++) {
      const b = buf[i];
      if (b === 0x0a || b === 0x0d) {
        if (b === 0x0d || !this.afterCr) this.lines++;
        this.afterCr = b === 0x0d;
        lineStart = i + 1;
        this.lead = [];
        this.leadBytes = 0;
      } else if (b === 0x20 || b === 0x09) this.afterCr = false;
      else {
        this.done = true;
        const line = Buffer.concat([...this.lead, buf.subarray(lineStart)]);
        this.lead = [];
        return line;
      }
    }
    // A line of whitespace so far: kept (bounded) in case the header follows on it.
    if (lineStart < buf.length && this.leadBytes <= this.maxLineBytes + 2) {
      const ws = Buffer.from(buf.subarray(lineStart, lineStart + this.maxLineBytes + 3 - this.leadBytes));
      this.lead.push(ws);
      this.leadBytes += ws.length;
    }
    return null;
  }
}
