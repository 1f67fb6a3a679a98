import type { ReactNode } from 'react';
import { useShown } from './hooks';

/** A short explanation next to a chart, collapsed to one line until opened. Teacher mode can hide them. */
export function Explain({ title, children, open }: { title: string; children: ReactNode; open?: boolean }) {
  const shown = useShown('teaching');
  if (!shown) return null;
  return (
    <details className="explain" open={open}>
      <summary>{title}</summary>
      <div className="explain-body">{children}</div>
    </details>
  );
}
