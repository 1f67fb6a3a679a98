import { useShallow } from 'zustand/react/shallow';
import { useAppStore } from '../store';

/** Problems the user should read: a run that could not start, an unusable URL parameter. */
export function Notices() {
  const { notice, urlProblems, dismiss } = useAppStore(useShallow((s) => ({ notice: s.notice, urlProblems: s.urlProblems, dismiss: s.dismissNotice })));
  return (
    <>
      {notice && (
        <div className={notice.kind === 'error' ? 'error banner' : 'info banner'} role="alert" data-testid="error">
          <span>{notice.text}</span>
          <button type="button" className="link" onClick={dismiss} aria-label="Dismiss message">
            ×
          </button>
        </div>
      )}
      {urlProblems.length > 0 && (
        <div className="info banner" role="status" data-testid="url-problems">
          <span>
            Some settings in the link could not be used: {urlProblems.join('; ')}.
          </span>
        </div>
      )}
    </>
  );
}
