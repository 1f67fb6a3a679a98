// A GPU buffer (or a slice of one) with a shape. Nothing more: ops take tensors and record dispatches.

export class Tensor {
  readonly size: number;

  constructor(
    readonly buffer: GPUBuffer,
    readonly shape: readonly number[],
    /** Byte offset into the buffer (parameters are slices of one flat buffer). */
    readonly offsetBytes = 0,
    readonly label = '',
  ) {
    this.size = shape.reduce((a, b) => a * b, 1);
  }

  get byteLength(): number {
    return this.size * 4;
  }

  binding(): GPUBufferBinding {
    return { buffer: this.buffer, offset: this.offsetBytes, size: this.byteLength };
  }
}
