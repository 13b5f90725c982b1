/**
 * A value that is decoded or encoded only when someone needs that form. Edges carry encoded
 * Buffers; a task whose input is exactly one parent's output gets that Buffer untouched.
 */
import { decodeValue, encodeValue } from '../../shared/codec.js';

export class Val {
  private constructor(
    private buf: Buffer | undefined,
    private value: unknown,
    private decoded: boolean,
  ) {}

  static fromBuffer(buf: Buffer): Val {
    return new Val(buf, undefined, false);
  }

  static fromValue(value: unknown): Val {
    return new Val(undefined, value, true);
  }

  get encoded(): Buffer {
    this.buf ??= encodeValue(this.value);
    return this.buf;
  }

  get decodedValue(): unknown {
    if (!this.decoded) {
      this.value = decodeValue(this.buf!);
      this.decoded = true;
    }
    return this.value;
  }

  get sizeBytes(): number {
    return this.encoded.length;
  }
}
