import { inspect } from 'node:util';
import { NotUtf8Error } from './errors.js';

const REDACTED = '[redacted]';
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A secret's value. It prints as `[redacted]` everywhere (util.inspect / console.log,
 * String(), template literals, JSON.stringify); read it with expose() or exposeBytes(), as
 * late and as briefly as you can.
 */
export class Secret {
  /** @type {Buffer} */
  #bytes;

  /** @param {string | Uint8Array} value */
  constructor(value) {
    this.#bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
  }

  /** The value as text; NotUtf8Error when it is not UTF-8 (use exposeBytes then). */
  expose() {
    try {
      return utf8.decode(this.#bytes);
    } catch {
      throw new NotUtf8Error();
    }
  }

  /** A copy of the value's bytes. */
  exposeBytes() {
    return Buffer.from(this.#bytes);
  }

  /** The value's length in bytes. */
  get byteLength() {
    return this.#bytes.length;
  }

  /** Overwrites the bytes this object holds with zeros (copies already exposed are not). */
  clear() {
    this.#bytes.fill(0);
    this.#bytes = Buffer.alloc(0);
  }

  toString() {
    return REDACTED;
  }

  toJSON() {
    return REDACTED;
  }

  [Symbol.toPrimitive]() {
    return REDACTED;
  }

  get [Symbol.toStringTag]() {
    return 'Secret';
  }

  [inspect.custom]() {
    return `Secret(${REDACTED})`;
  }
}

/** Bytes of a value given to the SDK: text, bytes, or a Secret. */
export function valueBytes(v) {
  if (v instanceof Secret) return v.exposeBytes();
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  if (v instanceof Uint8Array) return Buffer.from(v);
  throw new TypeError('a value must be a string, a Uint8Array or a Secret');
}

/** Whether bytes are UTF-8 text. */
export function isUtf8(bytes) {
  try {
    utf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}
