// Which rows of a long list to render: only those in view, plus a margin.

export interface Window {
  first: number;
  last: number; // exclusive
  offsetPx: number;
}

export function visibleRows(scrollTop: number, viewportPx: number, rowPx: number, total: number, overscan = 10): Window {
  if (total <= 0 || rowPx <= 0) return { first: 0, last: 0, offsetPx: 0 };
  const first = Math.max(0, Math.floor(scrollTop / rowPx) - overscan);
  const last = Math.min(total, Math.ceil((scrollTop + viewportPx) / rowPx) + overscan);
  return { first, last, offsetPx: first * rowPx };
}

/** The page (of `pageSize` rows) that holds row `index`. */
export function pageOf(index: number, pageSize: number): number {
  return Math.floor(index / pageSize);
}
