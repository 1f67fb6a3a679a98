import { type ReactNode, useId, useState } from 'react';

/** A panel whose body opens on demand, with the disclosure button inside the heading, so the page stays
 *  short. The body is built when first opened; with `keepMounted` it then stays mounted while closed (a
 *  benchmark, sweep or lab running in its worker goes on), otherwise closing unmounts it. */
export function DisclosurePanel({ title, testId, keepMounted = false, children }: { title: ReactNode; testId: string; keepMounted?: boolean; children: () => ReactNode }) {
  const [open, setOpen] = useState(false);
  const [opened, setOpened] = useState(false);
  const bodyId = useId();
  const headingId = useId();
  return (
    <section className="panel teaching-view" aria-labelledby={headingId} data-testid={testId}>
      <h2 id={headingId} className="disclosure-heading">
        <button
          type="button"
          className="disclosure"
          aria-expanded={open}
          aria-controls={bodyId}
          onClick={() => {
            setOpen((o) => !o);
            setOpened(true);
          }}
        >
          <span aria-hidden="true" className="disclosure-mark">
            {open ? '▾' : '▸'}
          </span>
          {title}
        </button>
      </h2>
      <div id={bodyId} hidden={!open}>
        {(keepMounted ? opened : open) && children()}
      </div>
    </section>
  );
}
