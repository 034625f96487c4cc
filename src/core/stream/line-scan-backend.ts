/**
 * Kept for one minor version only: 0.1 had two backends for finding line ends (a WebAssembly SIMD
 * kernel and a JavaScript scan) and this switch between them. Since 0.2 there is one LF finder
 * (lf-scan.ts), so the switch does nothing.
 */

/** @deprecated Does nothing since 0.2 and will be removed in 0.3; there is one line-end finder. */
export function setLineScanBackend(_backend: 'simd' | 'js'): 'js' {
  return 'js';
}
